"""The synchronous :class:`Consumer`: pull consumers and listeners. For asyncio use
:class:`qmq.aio.Consumer`."""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable, Iterator, List, Optional, TypeVar

from . import _check, _owner
from ._options import ConsumeOptions, subject_group
from .client import Client
from .errors import ClosedError
from .idempotence import IdempotenceStore
from .message import ReceivedMessage
from .transactional import TransactionalHandler

__all__ = ["Consumer", "PullConsumer", "Subscription"]

Handler = Callable[[ReceivedMessage], Any]
H = TypeVar("H", bound=Handler)


class PullConsumer:
    """One subscription consumed by explicit pulls; get it from
    :meth:`Consumer.pull_consumer`. Each message must be acked or nacked."""

    def __init__(self, ref: Any, consumer: "Consumer") -> None:
        self._ref = ref
        self._consumer = consumer
        self._closed = False

    @property
    def subject(self) -> str:
        return self._ref.subject

    @property
    def group(self) -> str:
        """The group on the wire (the client id for broadcast)."""
        return self._ref.group

    @property
    def closed(self) -> bool:
        return self._closed

    def pull(self, max_messages: int = 32, timeout: float = 1.0) -> List[ReceivedMessage]:
        """Waits until ``max_messages`` arrived or ``timeout`` seconds passed, and returns what
        arrived (possibly nothing). Ctrl-C interrupts it (``KeyboardInterrupt``); messages it had
        received are then failed and come back later."""
        if self._closed:
            raise ClosedError("the pull consumer is closed")
        n = _check.integer("max_messages", max_messages, 1)
        ms = _check.millis("timeout", timeout)
        return [ReceivedMessage(r) for r in self._ref.pull(n, ms)]

    def messages(self, batch: int = 32, poll: float = 0.5) -> Iterator[ReceivedMessage]:
        """Yields messages until the consumer is closed, pulling ``batch`` at a time."""
        while not self._closed:
            try:
                got = self.pull(batch, poll)
            except ClosedError:
                return
            yield from got

    def close(self) -> None:
        """Stops pulling and sends the acks given so far. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._ref.close()
        self._consumer._forget(self)

    def __enter__(self) -> "PullConsumer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> Iterator[ReceivedMessage]:
        return self.messages()


class Subscription:
    """A running listener. ``failures`` counts handler exceptions and ``last_failure`` holds the
    last traceback (the same text the message's failure reason carries). ``group`` is the group
    on the wire (the client id for broadcast)."""

    def __init__(self, subject: str, group: str, handler: Handler, consumer: "Consumer") -> None:
        self.subject = subject
        self.group = group
        self.handler = handler
        self.failures = 0
        self.last_failure: Optional[str] = None
        self._lock = threading.Lock()
        self._consumer = consumer
        self._ref: Any = None

    def _call(self, ref: Any) -> Optional[str]:
        """Called by the core on one of its threads; returns None (ack) or the reason."""
        try:
            if isinstance(self.handler, TransactionalHandler):
                # The key needs the subscription's subject and (wire) group.
                self.handler.process(ReceivedMessage(ref), self.group, self.subject)
            else:
                self.handler(ReceivedMessage(ref))
            return None
        except BaseException:  # noqa: BLE001 - any failure means "retry"
            reason = traceback.format_exc()
            with self._lock:
                self.failures += 1
                self.last_failure = reason
            return reason

    @property
    def stopped(self) -> bool:
        return self._ref is None or self._ref.stopped

    def stop(self, timeout: float = 10.0) -> bool:
        """Stops pulling, lets running handlers finish and sends their acks; waits up to
        ``timeout`` seconds. Returns whether it stopped in time."""
        ms = _check.millis("timeout", timeout)
        done = self._ref.stop(ms)
        self._consumer._forget(self)
        return done

    def __repr__(self) -> str:
        return f"Subscription({self.subject!r}, group={self.group!r}, stopped={self.stopped})"


class Consumer:
    """Consumes messages, by pulling (:meth:`pull_consumer`) or with listeners
    (:meth:`subscribe`).

    >>> consumer = Consumer("http://127.0.0.1:8080/meta/address", app_code="shop")
    >>> @consumer.subscribe("order.created", group="billing")
    ... def on_order(msg):
    ...     bill(msg["id"])          # raising means: retry later

    Give ``client=`` to share a :class:`~qmq.Client`; otherwise it owns a private one.

    Options of both forms: ``tags`` and ``tag_type`` (``"or"``/``"and"``, filtered by the
    broker), ``broadcast`` (every consumer gets every message; ``group`` may be empty),
    ``at_most_once`` (acked on receipt, never redelivered), ``max_retry`` (tries before the
    dead-letter subject), ``idempotence`` (a :class:`~qmq.IdempotenceStore`).
    """

    def __init__(
        self,
        meta_url: Optional[str] = None,
        app_code: Optional[str] = None,
        *,
        client: Optional[Client] = None,
        **client_options: Any,
    ) -> None:
        self._client, self._owns_client = _owner.resolve(meta_url, app_code, client, client_options)
        self._ref = self._client._ref.consumer()
        self._closed = False
        self._lock = threading.Lock()
        self._children: List[Any] = []
        self._client._close_hooks.append(self._stop_children)

    @property
    def client(self) -> Client:
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed or self._client.closed

    @property
    def subscriptions(self) -> List[Subscription]:
        with self._lock:
            return [c for c in self._children if isinstance(c, Subscription)]

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError("the consumer is closed")

    def _forget(self, child: Any) -> None:
        with self._lock:
            if child in self._children:
                self._children.remove(child)

    def pull_consumer(
        self,
        subject: str,
        group: str = "",
        *,
        tags: Any = (),
        tag_type: str = "or",
        broadcast: bool = False,
        at_most_once: bool = False,
        max_retry: Optional[int] = None,
        idempotence: Optional[IdempotenceStore] = None,
    ) -> PullConsumer:
        """Starts consuming ``subject`` as ``group`` for explicit pulls."""
        self._check_open()
        options = ConsumeOptions(
            tags=tags,
            tag_type=tag_type,
            broadcast=broadcast,
            at_most_once=at_most_once,
            max_retry=max_retry,
            idempotence=idempotence,
        )
        subject, group = subject_group(subject, group, options.broadcast)
        pc = PullConsumer(self._ref.pull_consumer(subject, group, options), self)
        with self._lock:
            self._children.append(pc)
        return pc

    def listen(
        self,
        subject: str,
        handler: Handler,
        group: str = "",
        *,
        tags: Any = (),
        tag_type: str = "or",
        broadcast: bool = False,
        at_most_once: bool = False,
        max_retry: Optional[int] = None,
        idempotence: Optional[IdempotenceStore] = None,
        concurrency: int = 8,
    ) -> Subscription:
        """Runs ``handler(message)`` for every message of ``subject`` for ``group``, on qmq's
        threads, at most ``concurrency`` at a time. Returning acks the message; raising retries
        it (the traceback is the failure reason) and, after ``max_retry`` tries, moves it to
        the dead-letter subject.

        ``handler`` may be a :func:`~qmq.transactional_idempotent` handler: it then runs in a
        database transaction with the message's dedup key (``subject%group%messageId``)."""
        self._check_open()
        _check.callable_("handler", handler)
        options = ConsumeOptions(
            tags=tags,
            tag_type=tag_type,
            broadcast=broadcast,
            at_most_once=at_most_once,
            max_retry=max_retry,
            idempotence=idempotence,
            concurrency=concurrency,
        )
        subject, group = subject_group(subject, group, options.broadcast)
        if isinstance(handler, TransactionalHandler) and options.idempotence is not None:
            raise ValueError(
                "a transactional_idempotent handler keeps its own dedup table: do not also"
                " pass idempotence="
            )
        # The wire group (the client id for broadcast) before any message can arrive.
        wire_group = self._client.client_id if options.broadcast else group
        sub = Subscription(subject, wire_group, handler, self)
        sub._ref = self._ref.subscribe(subject, group, options, sub._call)
        sub.group = sub._ref.group  # the wire group: the client id for broadcast
        with self._lock:
            self._children.append(sub)
        return sub

    def subscribe(self, subject: str, group: str = "", **options: Any) -> Callable[[H], H]:
        """Decorator form of :meth:`listen`; the function gets a ``subscription`` attribute.

        >>> @consumer.subscribe("order.created", group="billing", tags=["vip"])
        ... def on_order(msg): ...
        """
        _check.string("subject", subject)

        def register(handler: H) -> H:
            sub = self.listen(subject, handler, group, **options)
            try:
                handler.subscription = sub  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return handler

        return register

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the consumer is closed (or ``timeout`` seconds); Ctrl-C interrupts it.
        Returns whether it was closed."""
        event = threading.Event()
        while not self.closed:
            if timeout is not None:
                if timeout <= 0:
                    return False
                step = min(0.2, timeout)
                timeout -= step
            else:
                step = 0.2
            event.wait(step)
        return True

    def _stop_children(self, timeout: float = 5.0) -> None:
        with self._lock:
            children, self._children = self._children, []
        for child in children:
            if isinstance(child, Subscription):
                child._ref.stop(int(timeout * 1000))
            else:
                child._closed = True
                child._ref.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stops every listener (waiting for running handlers) and pull consumer, then closes
        the private client (a shared one stays open). Idempotent."""
        _check.seconds("timeout", timeout)
        if self._closed:
            return
        self._closed = True
        self._stop_children(timeout)
        if self._owns_client:
            self._client.close(timeout)

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Consumer(client_id={self._client.client_id!r}, closed={self.closed})"
