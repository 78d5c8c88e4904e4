"""Idempotence stores: remember which messages a consumer group processed, so a redelivered
message is acked without running the handler again (key ``subject%group%messageId``)."""

from __future__ import annotations

import datetime as _dt
from typing import Optional, Union

from . import _check, _native

__all__ = ["IdempotenceStore", "MemoryIdempotenceStore", "SqliteIdempotenceStore"]


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
    (QMQ's ``deduplicate_tbl`` shape). Keys are kept until ``ttl`` if given."""

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


def _ref_of(store: Optional[IdempotenceStore]) -> "Optional[_native.IdempotenceStoreRef]":
    if store is None:
        return None
    _check.instance("idempotence", store, IdempotenceStore, "a qmq.IdempotenceStore")
    return store._ref
