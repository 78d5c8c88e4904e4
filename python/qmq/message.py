"""Messages: :class:`Message` (to send), :class:`ReceivedMessage` (delivered) and
:class:`SendReceipt`.

A QMQ message has no body: it is a set of string properties plus tags. Numbers and booleans
are sent as strings (as QMQ's Java client does); dates as epoch milliseconds.
"""

from __future__ import annotations

import datetime as _dt
import traceback
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Union

from . import _check
from .errors import QmqError

__all__ = ["Message", "ReceivedMessage", "SendReceipt"]

PropertyValue = Union[str, int, float, bool, _dt.datetime]


def _property_value(key: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, _dt.datetime):
        return str(int(value.timestamp() * 1000))
    raise TypeError(
        f"property {key!r} must be str, int, float, bool or datetime, not {type(value).__name__}"
    )


class SendReceipt(NamedTuple):
    """What a successful send reports."""

    message_id: str
    """The message id (QMQ format)."""
    broker_group: str
    """The broker (or delay-server) group that stored the message."""
    attempts: int
    """How many attempts it took (1 = first try)."""


class Message:
    """A message to send.

    >>> Message("order.created", {"order_id": 42}, tags=["vip"], delay=2.0)

    ``delay`` (seconds or ``timedelta``) or ``delay_until`` (an aware ``datetime`` or epoch
    seconds) makes it a delay message. ``max_retries`` caps the consumers' retries
    (``qmq_maxRetryNum``). The message id is assigned when it is sent (see the receipt).
    """

    __slots__ = (
        "subject",
        "_properties",
        "_tags",
        "_delay_ms",
        "_delay_until_ms",
        "_max_retries",
        "_staged",
    )

    def __init__(
        self,
        subject: str,
        properties: Optional[Mapping[str, PropertyValue]] = None,
        *,
        tags: Iterable[str] = (),
        delay: Union[float, _dt.timedelta, None] = None,
        delay_until: Union[_dt.datetime, float, None] = None,
        max_retries: Optional[int] = None,
    ) -> None:
        self.subject: str = _check.string("subject", subject)
        self._properties: Dict[str, str] = {}
        if properties is not None:
            if not isinstance(properties, Mapping):
                raise _check.fail("properties", "a mapping of str to str", properties)
            for key, value in properties.items():
                self.set_property(key, value)
        self._tags: Optional[List[str]] = _check.strings("tags", tags) or None
        self._delay_ms: Optional[int] = None
        self._delay_until_ms: Optional[int] = None
        if delay is not None and delay_until is not None:
            raise ValueError("give delay or delay_until, not both")
        if delay is not None:
            self.set_delay(delay)
        if delay_until is not None:
            self.set_delay_until(delay_until)
        self._max_retries: Optional[int] = _check.opt_integer("max_retries", max_retries, 1)
        # Outbox rows staged from this message (row id -> the native message with its id);
        # see qmq.Outbox.stage.
        self._staged: Optional[Dict[int, Any]] = None

    def set_property(self, key: str, value: PropertyValue) -> "Message":
        """Sets a property; returns the message (for chaining)."""
        _check.string("property key", key)
        self._properties[key] = _property_value(key, value)
        return self

    def add_tag(self, tag: str) -> "Message":
        """Adds a tag (consumers can filter on tags server-side)."""
        _check.string("tag", tag)
        if self._tags is None:
            self._tags = []
        if tag not in self._tags:
            self._tags.append(tag)
        return self

    def set_delay(self, delay: Union[float, _dt.timedelta]) -> "Message":
        """Delivers the message ``delay`` after it is sent."""
        self._delay_ms = _check.millis("delay", delay)
        self._delay_until_ms = None
        return self

    def set_delay_until(self, when: Union[_dt.datetime, float]) -> "Message":
        """Delivers the message at ``when`` (an aware ``datetime``, or epoch seconds)."""
        if isinstance(when, _dt.datetime):
            if when.tzinfo is None:
                raise ValueError("delay_until must be timezone-aware (e.g. tzinfo=timezone.utc)")
            ms = int(when.timestamp() * 1000)
        elif isinstance(when, bool) or not isinstance(when, (int, float)):
            raise _check.fail("delay_until", "a datetime or epoch seconds", when)
        else:
            ms = int(when * 1000)
        if ms < 0:
            raise ValueError("delay_until must not be before 1970")
        self._delay_until_ms = ms
        self._delay_ms = None
        return self

    @property
    def properties(self) -> Dict[str, str]:
        """A copy of the user properties."""
        return dict(self._properties)

    @property
    def tags(self) -> List[str]:
        """A copy of the tags."""
        return list(self._tags or ())

    @property
    def max_retries(self) -> Optional[int]:
        return self._max_retries

    def __repr__(self) -> str:
        return f"Message({self.subject!r}, {self._properties!r}, tags={self.tags!r})"


class ReceivedMessage:
    """A delivered message.

    From a pull consumer it must be completed once: :meth:`ack` (processed) or :meth:`nack`
    (failed: it is retried later, and dead-lettered after the maximum number of tries). Used
    as a context manager it acks on success and nacks with the traceback on an exception.
    A message dropped without either is failed, hence retried, never lost.

    In a listener the handler's outcome completes it: returning acks, raising retries.
    """

    __slots__ = ("_ref", "_props", "__weakref__")

    def __init__(self, ref: Any) -> None:
        self._ref = ref
        self._props: Optional[Dict[str, str]] = None

    @property
    def subject(self) -> str:
        return self._ref.subject

    @property
    def message_id(self) -> str:
        return self._ref.message_id

    @property
    def tags(self) -> List[str]:
        return self._ref.tags

    @property
    def times(self) -> int:
        """Delivery attempt (``qmq_times``): 1 for the first delivery, 2 for the first retry."""
        return self._ref.times

    @property
    def created_at(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self._ref.created_ms / 1000, tz=_dt.timezone.utc)

    @property
    def properties(self) -> Dict[str, str]:
        """Every property, including QMQ's own ``qmq_*`` ones."""
        if self._props is None:
            self._props = dict(self._ref.attributes())
        return dict(self._props)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """One property, or ``default``."""
        value = self._ref.get(_check.string("key", key))
        return default if value is None else value

    def __getitem__(self, key: str) -> str:
        value = self._ref.get(_check.string("key", key))
        if value is None:
            raise KeyError(key)
        return value

    def get_large_string(self, key: str) -> Optional[str]:
        """A value sent as QMQ large string (``key#part0..N``)."""
        return self._ref.get_large_string(_check.string("key", key))

    @property
    def needs_ack(self) -> bool:
        """Whether this pulled message still has to be acked or nacked."""
        return self._ref.needs_ack

    def ack(self) -> None:
        """Marks the message processed."""
        if not self._ref.complete(None):
            raise QmqError(self._not_ackable())

    def nack(self, reason: str = "failed") -> None:
        """Fails the message: it is retried later (dead-lettered after the last try)."""
        if not self._ref.complete(_check.string("reason", reason)):
            raise QmqError(self._not_ackable())

    def __enter__(self) -> "ReceivedMessage":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self._ref.needs_ack:
            return
        if exc_type is None:
            self._ref.complete(None)
        else:
            self._ref.complete("".join(traceback.format_exception(exc_type, exc, tb)))

    def _not_ackable(self) -> str:
        return (
            f"message {self.message_id} is already acked or nacked"
            " (listener messages are completed by the handler's outcome)"
        )

    def __repr__(self) -> str:
        return (
            f"ReceivedMessage(subject={self.subject!r}, message_id={self.message_id!r},"
            f" times={self.times})"
        )
