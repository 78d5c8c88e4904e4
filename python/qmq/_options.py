"""Consume options, checked here and passed to the native layer as one object whose
attributes mirror the bridge's `OptionsArg` field by field."""

from __future__ import annotations

from typing import Any, Iterable, List, Optional

from . import _check
from .idempotence import IdempotenceStore, _ref_of


class ConsumeOptions:
    __slots__ = (
        "tags",
        "tag_type",
        "broadcast",
        "at_most_once",
        "max_retry",
        "idempotence",
        "concurrency",
    )

    def __init__(
        self,
        *,
        tags: Iterable[str] = (),
        tag_type: str = "or",
        broadcast: bool = False,
        at_most_once: bool = False,
        max_retry: Optional[int] = None,
        idempotence: Optional[IdempotenceStore] = None,
        concurrency: int = 8,
    ) -> None:
        self.tags: List[str] = _check.strings("tags", tags)
        tag_type = _check.string("tag_type", tag_type).lower()
        if tag_type not in ("or", "and"):
            raise ValueError(f"tag_type must be 'or' or 'and', not {tag_type!r}")
        self.tag_type = tag_type
        self.broadcast = _check.boolean("broadcast", broadcast)
        self.at_most_once = _check.boolean("at_most_once", at_most_once)
        self.max_retry = _check.opt_integer("max_retry", max_retry, 1)
        self.idempotence: Any = _ref_of(idempotence)
        self.concurrency = _check.integer("concurrency", concurrency, 1)


def subject_group(subject: Any, group: Any, broadcast: bool) -> "tuple[str, str]":
    subject = _check.string("subject", subject)
    group = _check.string("group", group)
    if not group and not broadcast:
        raise ValueError("group is required (it may be empty only for broadcast consumers)")
    return subject, group
