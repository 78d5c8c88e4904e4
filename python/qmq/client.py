"""The :class:`Client`: one connection to a QMQ cluster, shared by producers and consumers.

A :class:`~qmq.Producer` or :class:`~qmq.Consumer` built from a meta URL owns a private
client; build a ``Client`` yourself to share one runtime and connection pool between them.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import TYPE_CHECKING, Any, List, Optional

from . import _check, _native
from .errors import ClosedError

if TYPE_CHECKING:
    from .consumer import Consumer
    from .producer import Producer

__all__ = ["Client"]

_open_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()
_open_lock = threading.Lock()


class Client:
    """A connection to one QMQ cluster (its own runtime threads, meta client, connections).

    :param meta_url: the meta server's locator, ``http://host:port/meta/address``.
    :param app_code: your application's code (sent to meta and set on messages).
    :param send_timeout: seconds one SEND may take (default 5).
    :param pull_timeout: seconds the broker may hold a pull open (default 2.5).
    :param retry_delay: seconds between attempts to hand a failed message back (default 5).

    Other keywords: ``client_id``, ``worker_threads``, ``send_tries``, ``batch_size``,
    ``queue_capacity``, ``pull_batch_size``, ``max_retry``. Use it as a context manager, or
    call :meth:`close`; clients still open at interpreter exit are closed then.
    """

    def __init__(
        self,
        meta_url: str,
        app_code: str,
        *,
        client_id: Optional[str] = None,
        worker_threads: Optional[int] = None,
        send_tries: Optional[int] = None,
        send_timeout: Optional[float] = None,
        batch_size: Optional[int] = None,
        queue_capacity: Optional[int] = None,
        pull_batch_size: Optional[int] = None,
        pull_timeout: Optional[float] = None,
        max_retry: Optional[int] = None,
        retry_delay: Optional[float] = None,
    ) -> None:
        self._ref = _native.ClientRef(
            _check.string("meta_url", meta_url),
            _check.string("app_code", app_code),
            client_id=_check.opt_string("client_id", client_id),
            worker_threads=_check.opt_integer("worker_threads", worker_threads, 1),
            send_tries=_check.opt_integer("send_tries", send_tries, 1),
            send_timeout_ms=_check.opt_millis("send_timeout", send_timeout),
            batch_size=_check.opt_integer("batch_size", batch_size, 1),
            queue_capacity=_check.opt_integer("queue_capacity", queue_capacity, 1),
            pull_batch_size=_check.opt_integer("pull_batch_size", pull_batch_size, 1),
            pull_timeout_ms=_check.opt_millis("pull_timeout", pull_timeout),
            max_retry=_check.opt_integer("max_retry", max_retry, 1),
            retry_delay_ms=_check.opt_millis("retry_delay", retry_delay),
        )
        self._close_hooks: List[Any] = []
        with _open_lock:
            _open_clients.add(self)

    @property
    def client_id(self) -> str:
        """This client's id (``<hostname>@@<hex>``); the consumer id on the wire."""
        return self._ref.client_id

    @property
    def closed(self) -> bool:
        return self._ref.closed

    def producer(self) -> "Producer":
        """A producer on this client (closing it leaves the client open)."""
        from .producer import Producer

        return Producer(client=self)

    def consumer(self) -> "Consumer":
        """A consumer on this client (closing it leaves the client open)."""
        from .consumer import Consumer

        return Consumer(client=self)

    def close(self, timeout: float = 5.0) -> None:
        """Stops listeners, waits up to ``timeout`` seconds for pending sends, then closes
        every connection and thread. Idempotent."""
        ms = _check.millis("timeout", timeout)
        hooks, self._close_hooks = self._close_hooks, []
        for hook in hooks:
            hook()
        self._ref.close(ms)

    def _ensure_open(self, what: str) -> None:
        if self._ref.closed:
            raise ClosedError(f"the {what}'s client is closed")

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(client_id={self.client_id!r}, closed={self.closed})"


def _close_all_at_exit() -> None:
    # Handlers and completions must not run while the interpreter is finalizing.
    with _open_lock:
        clients = list(_open_clients)
    for client in clients:
        try:
            client.close(1.0)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_close_all_at_exit)
