"""The synchronous :class:`Producer`. For asyncio use :class:`qmq.aio.Producer`."""

from __future__ import annotations

import concurrent.futures
from typing import Any, Callable, Iterable, List, Optional, Union

from . import _check, _owner
from .client import Client
from .errors import BatchSendError, ClosedError, QmqError
from .message import Message, SendReceipt

__all__ = ["Producer"]


class Producer:
    """Sends messages.

    >>> with Producer("http://127.0.0.1:8080/meta/address", app_code="shop") as producer:
    ...     receipt = producer.send(Message("order.created", {"id": "42"}))

    Give ``client=`` to share a :class:`~qmq.Client`; otherwise the producer owns a private one
    built from ``meta_url``, ``app_code`` and the other keywords (see :class:`~qmq.Client`).
    Thread-safe. Blocking calls release the GIL and can be interrupted with Ctrl-C.
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
        self._ref = self._client._ref.producer()
        self._closed = False

    @property
    def client(self) -> Client:
        return self._client

    @property
    def closed(self) -> bool:
        return self._closed or self._ref.closed

    @property
    def pending(self) -> int:
        """Messages accepted and not yet completed."""
        return self._ref.pending

    def _check_open(self) -> None:
        if self.closed:
            raise ClosedError("the producer is closed")

    @staticmethod
    def _message(value: Any, name: str = "message") -> Message:
        if not isinstance(value, Message):
            raise _check.fail(name, "a qmq.Message", value)
        return value

    def send(self, message: Message) -> SendReceipt:
        """Sends ``message`` and waits until a broker stored it (with retries).

        :raises SendError: every attempt failed, or the broker refused the message.
        :raises QueueFullError: too many messages are pending.
        :raises ClosedError: the producer is closed.
        """
        self._check_open()
        return SendReceipt(*self._ref.send(self._message(message)))

    def send_batch(
        self, messages: Iterable[Message], *, raise_on_error: bool = True
    ) -> List[Union[SendReceipt, QmqError]]:
        """Sends many messages at once and waits for all of them (the fast path: the messages
        are pipelined, and a full queue makes this wait instead of failing).

        Returns the receipts in order. If any message failed, raises :class:`BatchSendError`
        (whose ``results`` hold every receipt or error) unless ``raise_on_error`` is false, in
        which case the errors are returned in place of receipts.
        """
        self._check_open()
        items = messages if isinstance(messages, list) else list(
            _check.iterable("messages", messages, "an iterable of qmq.Message")
        )
        for i, m in enumerate(items):
            self._message(m, f"messages[{i}]")
        raw = self._ref.send_batch(items)
        results: List[Union[SendReceipt, QmqError]] = [
            SendReceipt(*r) if isinstance(r, tuple) else r for r in raw
        ]
        if raise_on_error:
            failed = sum(1 for r in results if not isinstance(r, SendReceipt))
            if failed:
                raise BatchSendError(f"{failed} of {len(results)} messages failed", results)
        return results

    def send_async(
        self,
        message: Message,
        callback: Optional[Callable[[Optional[SendReceipt], Optional[QmqError]], None]] = None,
    ) -> "concurrent.futures.Future[SendReceipt]":
        """Queues ``message`` and returns at once a ``concurrent.futures.Future`` of its receipt.
        ``callback(receipt, error)``, if given, runs on qmq's completion thread: keep it short.
        """
        self._check_open()
        if callback is not None:
            _check.callable_("callback", callback)
        future: "concurrent.futures.Future[SendReceipt]" = concurrent.futures.Future()
        future.set_running_or_notify_cancel()

        def done(receipt: Any, error: Any) -> None:
            if error is None:
                r = SendReceipt(*receipt)
                future.set_result(r)
                if callback is not None:
                    callback(r, None)
            else:
                future.set_exception(error)
                if callback is not None:
                    callback(None, error)

        self._ref.send_callback(self._message(message), done)
        return future

    def flush(self, timeout: float = 5.0) -> None:
        """Waits until every accepted message completed, at most ``timeout`` seconds."""
        self._ref.flush(_check.millis("timeout", timeout))

    def close(self, timeout: float = 5.0) -> None:
        """Stops accepting messages and waits up to ``timeout`` seconds for pending ones.
        Closes the private client (a shared one stays open). Idempotent."""
        ms = _check.millis("timeout", timeout)
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.close(ms / 1000)
        elif not self._ref.closed:
            self._ref.flush(ms)

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Producer(client_id={self._client.client_id!r}, closed={self.closed})"
