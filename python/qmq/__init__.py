"""qmq: a QMQ message-queue client (producer and consumer) over the Rust ``qmq-core``.

Synchronous API: :class:`Producer`, :class:`Consumer`, :class:`Message`. Asyncio API:
:mod:`qmq.aio` (``await producer.send(msg)``, ``async for msg in consumer.messages(...)``).
Every behaviour (batching, retries, acks, retry and dead-letter subjects, tags, broadcast,
at-most-once, idempotence, the transactional outbox) is implemented once in ``qmq-core`` and
shared with the other language bindings. Transactional messages: :class:`Outbox`;
exactly-once business work in your own database transaction:
:func:`transactional_idempotent`.
"""

from __future__ import annotations

from . import aio
from ._native import __version__
from .client import Client
from .consumer import Consumer, PullConsumer, Subscription
from .errors import (
    BatchSendError,
    ClosedError,
    InvalidArgumentError,
    OutboxError,
    QmqError,
    QueueFullError,
    SendError,
)
from .idempotence import (
    IdempotenceStore,
    MemoryIdempotenceStore,
    MySqlIdempotenceStore,
    PostgresIdempotenceStore,
    RedisIdempotenceStore,
    SqliteIdempotenceStore,
)
from .message import Message, ReceivedMessage, SendReceipt
from .outbox import Outbox, OutboxReceipt, OutboxRow, OutboxTransaction
from .producer import Producer
from .transactional import TransactionalHandler, transactional_idempotent

AsyncProducer = aio.Producer
AsyncConsumer = aio.Consumer

__all__ = [
    "__version__",
    "aio",
    "AsyncConsumer",
    "AsyncProducer",
    "BatchSendError",
    "Client",
    "ClosedError",
    "Consumer",
    "IdempotenceStore",
    "InvalidArgumentError",
    "MemoryIdempotenceStore",
    "Message",
    "MySqlIdempotenceStore",
    "Outbox",
    "OutboxError",
    "OutboxReceipt",
    "OutboxRow",
    "OutboxTransaction",
    "PostgresIdempotenceStore",
    "Producer",
    "PullConsumer",
    "QmqError",
    "QueueFullError",
    "ReceivedMessage",
    "RedisIdempotenceStore",
    "SendError",
    "SendReceipt",
    "SqliteIdempotenceStore",
    "Subscription",
    "TransactionalHandler",
    "transactional_idempotent",
]
