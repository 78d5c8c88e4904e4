"""Idempotence stores: remember which messages a consumer group processed, so a redelivered
message is acked without running the handler again (key ``subject%group%messageId``)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Union

from . import _check, _native

__all__ = [
    "IdempotenceStore",
    "MemoryIdempotenceStore",
    "MySqlIdempotenceStore",
    "PostgresIdempotenceStore",
    "RedisIdempotenceStore",
    "SqliteIdempotenceStore",
]


class IdempotenceStore:
    """Base class; pass an instance as ``idempotence=`` when consuming."""

    _ref: "_native.IdempotenceStoreRef"

    @property
    def kind(self) -> str:
        return self._ref.kind


class MemoryIdempotenceStore(IdempotenceStore):
    """Bounded, in memory: at most ``capacity`` keys, each kept ``ttl`` (seconds or
    ``timedelta``, default one day). Forgotten on restart."""

    def __init__(
        self, capacity: int = 100_000, ttl: Union[float, _dt.timedelta] = 24 * 3600.0
    ) -> None:
        self._ref = _native.IdempotenceStoreRef.memory(
            _check.integer("capacity", capacity, 1), _check.millis("ttl", ttl)
        )


class SqliteIdempotenceStore(IdempotenceStore):
    """In a SQLite file (``":memory:"`` for a private in-memory database), table ``table``
    (QMQ's ``deduplicate_tbl`` shape). Keys are kept until ``ttl`` if given.

    The store uses qmq's own copy of SQLite: do not open the same file with ``sqlite3`` in this
    process while the store is open (two SQLite copies in one process ignore each other's
    locks). Other processes are fine. For business work in your own SQLite transaction use
    :func:`qmq.transactional_idempotent`."""

    def __init__(
        self,
        path: str,
        *,
        table: str = "deduplicate_tbl",
        ttl: Union[float, _dt.timedelta, None] = None,
    ) -> None:
        import os

        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        self._ref = _native.IdempotenceStoreRef.sqlite(
            _check.string("path", path),
            _check.string("table", table),
            _check.opt_millis("ttl", ttl),
        )


class PostgresIdempotenceStore(IdempotenceStore):
    """In a PostgreSQL table at ``url`` (``postgres://user:pass@host:port/db``), created if
    missing unless ``create_table=False``. Keys are kept until ``ttl`` if given, else for
    good. Connects once now (a wrong URL fails here), then pools reconnecting connections.

    For exactly-once business work in your own transaction see
    :func:`qmq.transactional_idempotent` instead."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "deduplicate_tbl",
        ttl: Union[float, _dt.timedelta, None] = None,
        create_table: bool = True,
        connect_timeout: Union[float, _dt.timedelta] = 5.0,
    ) -> None:
        self._ref = _native.IdempotenceStoreRef.postgres(
            _check.string("url", url),
            _check.string("table", table),
            _check.opt_millis("ttl", ttl),
            _check.boolean("create_table", create_table),
            _check.millis("connect_timeout", connect_timeout),
        )


class MySqlIdempotenceStore(IdempotenceStore):
    """In a MySQL or MariaDB table at ``url`` (``mysql://user:pass@host:port/db``): QMQ's
    ``deduplicate_tbl`` with ``INSERT IGNORE``. Options as :class:`PostgresIdempotenceStore`."""

    def __init__(
        self,
        url: str,
        *,
        table: str = "deduplicate_tbl",
        ttl: Union[float, _dt.timedelta, None] = None,
        create_table: bool = True,
        connect_timeout: Union[float, _dt.timedelta] = 5.0,
    ) -> None:
        self._ref = _native.IdempotenceStoreRef.mysql(
            _check.string("url", url),
            _check.string("table", table),
            _check.opt_millis("ttl", ttl),
            _check.boolean("create_table", create_table),
            _check.millis("connect_timeout", connect_timeout),
        )


class RedisIdempotenceStore(IdempotenceStore):
    """In Redis at ``url`` (``redis://[user:pass@]host:port[/db]``): one key
    ``key_prefix + subject%group%messageId`` per message, set with ``SET NX PX`` and kept
    ``ttl`` (default 7 days). Connects and pings now."""

    def __init__(
        self,
        url: str,
        *,
        key_prefix: str = "qmq:idem:",
        ttl: Union[float, _dt.timedelta] = 7 * 24 * 3600.0,
        connect_timeout: Union[float, _dt.timedelta] = 5.0,
    ) -> None:
        ttl_ms = _check.millis("ttl", ttl)
        if ttl_ms < 1:
            raise ValueError("ttl must be at least a millisecond")
        self._ref = _native.IdempotenceStoreRef.redis(
            _check.string("url", url),
            _check.string("key_prefix", key_prefix),
            ttl_ms,
            _check.millis("connect_timeout", connect_timeout),
        )


def _ref_of(store: Optional[IdempotenceStore]) -> "Optional[_native.IdempotenceStoreRef]":
    if store is None:
        return None
    _check.instance("idempotence", store, IdempotenceStore, "a qmq.IdempotenceStore")
    return store._ref
