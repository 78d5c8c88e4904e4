"""The asyncio API.

>>> async with qmq.aio.Producer(META, app_code="shop") as producer:
...     receipt = await producer.send(qmq.Message("order.created", {"id": "42"}))
>>> async with qmq.aio.Consumer(META, app_code="shop") as consumer:
...     async for msg in consumer.messages("order.created", group="billing"):
...         await bill(msg)
...         msg.ack()

Sends complete through qmq's completion thread, which hands each result to the event loop
with ``call_soon_threadsafe``: the loop never blocks on the network. Pulls and closes run in
the loop's default executor with the GIL released.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, Iterable, List, Optional, TypeVar, Union

from . import _check
from .client import Client
from .consumer import Consumer as _SyncConsumer
from .consumer import PullConsumer, Subscription
from .errors import QmqError
from .idempotence import IdempotenceStore
from .message import Message, ReceivedMessage, SendReceipt
from .producer import Producer as _SyncProducer

__all__ = ["Producer", "Consumer"]

F = TypeVar("F", bound=Callable[..., Any])


def _resolve(fut: "asyncio.Future[SendReceipt]", receipt: Any, error: Any) -> None:
    if fut.done():  # cancelled by the caller meanwhile
        return
    if error is None:
        fut.set_result(SendReceipt(*receipt))
    else:
        fut.set_exception(error)


class Producer:
    """The asyncio producer; same constructor as :class:`qmq.Producer`."""

    def __init__(
        self,
        meta_url: Optional[str] = None,
        app_code: Optional[str] = None,
        *,
        client: Optional[Client] = None,
        **client_options: Any,
    ) -> None:
        self._sync = _SyncProducer(meta_url, app_code, client=client, **client_options)

    @property
    def client(self) -> Client:
        return self._sync.client

    @property
    def closed(self) -> bool:
        return self._sync.closed

    @property
    def pending(self) -> int:
        return self._sync.pending

    async def send(self, message: Message) -> SendReceipt:
        """Sends ``message``; resolves when a broker stored it.

        :raises QueueFullError: too many messages pending (use :meth:`send_batch`, which waits).
        """
        self._sync._check_open()
        msg = self._sync._message(message)
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[SendReceipt]" = loop.create_future()

        def done(receipt: Any, error: Any) -> None:
            try:
                loop.call_soon_threadsafe(_resolve, fut, receipt, error)
            except RuntimeError:  # the loop was closed: nobody is waiting any more
                pass

        self._sync._ref.send_callback(msg, done)
        return await fut

    async def send_batch(
        self, messages: Iterable[Message], *, raise_on_error: bool = True
    ) -> List[Union[SendReceipt, QmqError]]:
        """:meth:`qmq.Producer.send_batch` in the default executor."""
        items = list(_check.iterable("messages", messages, "an iterable of qmq.Message"))
        call = functools.partial(self._sync.send_batch, items, raise_on_error=raise_on_error)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def flush(self, timeout: float = 5.0) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._sync.flush, timeout)

    async def close(self, timeout: float = 5.0) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close, timeout)

    async def __aenter__(self) -> "Producer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


class Consumer:
    """The asyncio consumer; same constructor as :class:`qmq.Consumer`."""

    def __init__(
        self,
        meta_url: Optional[str] = None,
        app_code: Optional[str] = None,
        *,
        client: Optional[Client] = None,
        **client_options: Any,
    ) -> None:
        self._sync = _SyncConsumer(meta_url, app_code, client=client, **client_options)

    @property
    def client(self) -> Client:
        return self._sync.client

    @property
    def closed(self) -> bool:
        return self._sync.closed

    def pull_consumer(self, subject: str, group: str = "", **options: Any) -> PullConsumer:
        """A pull consumer (see :meth:`qmq.Consumer.pull_consumer`); use :meth:`pull` on it."""
        return self._sync.pull_consumer(subject, group, **options)

    async def pull(
        self, pull_consumer: PullConsumer, max_messages: int = 32, timeout: float = 1.0
    ) -> List[ReceivedMessage]:
        """``pull_consumer.pull(...)`` in the default executor."""
        _check.instance("pull_consumer", pull_consumer, PullConsumer, "a qmq.PullConsumer")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, pull_consumer.pull, max_messages, timeout)

    async def messages(
        self,
        subject: str,
        group: str = "",
        *,
        batch: int = 32,
        poll: float = 0.5,
        tags: Any = (),
        tag_type: str = "or",
        broadcast: bool = False,
        at_most_once: bool = False,
        max_retry: Optional[int] = None,
        idempotence: Optional[IdempotenceStore] = None,
    ) -> AsyncIterator[ReceivedMessage]:
        """Yields messages of ``subject`` for ``group`` until the consumer closes or the loop
        breaks out (the pull consumer is then closed). Ack or nack each one; a message dropped
        unacked is retried."""
        _check.integer("batch", batch, 1)
        _check.seconds("poll", poll)
        pc = self._sync.pull_consumer(
            subject,
            group,
            tags=tags,
            tag_type=tag_type,
            broadcast=broadcast,
            at_most_once=at_most_once,
            max_retry=max_retry,
            idempotence=idempotence,
        )
        loop = asyncio.get_running_loop()
        try:
            while not pc.closed and not self._sync.closed:
                try:
                    got = await loop.run_in_executor(None, pc.pull, batch, poll)
                except QmqError:
                    if pc.closed or self._sync.closed:
                        return
                    raise
                for msg in got:
                    yield msg
        finally:
            await loop.run_in_executor(None, pc.close)

    def subscribe(self, subject: str, group: str = "", **options: Any) -> Callable[[F], F]:
        """Decorator registering a listener; the handler may be a coroutine function, which
        then runs on the event loop current at registration (call this inside it)."""
        _check.string("subject", subject)
        try:
            loop: Optional[asyncio.AbstractEventLoop] = asyncio.get_running_loop()
        except RuntimeError:
            loop = None

        def register(handler: F) -> F:
            _check.callable_("handler", handler)
            if asyncio.iscoroutinefunction(handler):
                if loop is None:
                    raise RuntimeError(
                        "register a coroutine handler from inside the running event loop"
                    )

                def call(msg: ReceivedMessage) -> None:
                    asyncio.run_coroutine_threadsafe(handler(msg), loop).result()

                sub = self._sync.listen(subject, call, group, **options)
            else:
                sub = self._sync.listen(subject, handler, group, **options)
            try:
                handler.subscription = sub  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return handler

        return register

    @property
    def subscriptions(self) -> List[Subscription]:
        return self._sync.subscriptions

    async def close(self, timeout: float = 5.0) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._sync.close, timeout)

    async def __aenter__(self) -> "Consumer":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()
