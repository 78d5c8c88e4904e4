"""Exceptions raised by qmq.

Every exception raised for a core failure is a :class:`QmqError` carrying ``kind`` (the
core's error variant, e.g. ``"QueueFull"``) and ``retriable`` (whether trying again later
may succeed).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

__all__ = [
    "QmqError",
    "ClosedError",
    "QueueFullError",
    "InvalidArgumentError",
    "SendError",
    "BatchSendError",
    "OutboxError",
]


class QmqError(Exception):
    """Base class of every qmq error."""

    kind: str = "Unknown"
    retriable: bool = False


class ClosedError(QmqError):
    """The producer, consumer or client was closed (or is closing)."""

    kind = "Closed"


class QueueFullError(QmqError):
    """The producer's send queue is full; retry later or use ``send_batch``."""

    kind = "QueueFull"
    retriable = True


class InvalidArgumentError(QmqError, ValueError):
    """A value was rejected (bad subject or group name, reserved property, bad config)."""

    kind = "InvalidArgument"


class SendError(QmqError):
    """A message could not be sent (every attempt failed, or the broker refused it)."""

    kind = "Send"


class BatchSendError(QmqError):
    """Some messages of a batch failed. ``results`` holds, in order, a receipt or the error
    of each message."""

    kind = "Batch"

    def __init__(self, message: str, results: Sequence[Union["object", QmqError]]) -> None:
        super().__init__(message)
        self.results: List[object] = list(results)

    @property
    def errors(self) -> List[QmqError]:
        """The errors only."""
        return [r for r in self.results if isinstance(r, QmqError)]


class OutboxError(QmqError):
    """A transactional (outbox) message was not sent, or its table could not be used.

    ``row_id`` is the outbox row, ``message_id`` the message (when known), and ``row_fate``
    what became of the row: ``"left_for_watchdog"`` (still pending; ``qmq-server watchdog``
    resends it), ``"blocked"`` (the broker refused it with BLOCK), ``"unchanged"`` (the
    failure could not be recorded; the row is still pending) or ``"not_committed"`` (no
    committed row: the transaction was rolled back or is still open; nothing was sent).
    ``kind`` names the core's error (``"Send"``, ``"NotCommitted"``, ``"Postgres"``, ...).
    """

    kind = "Outbox"
    row_id: Optional[int] = None
    row_fate: Optional[str] = None
    message_id: Optional[str] = None
