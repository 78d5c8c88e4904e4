"""Transactional messages: QMQ's ``qmq_msg_queue`` outbox in your own database.

A message is written as a row of the outbox table by *your* connection, inside *your*
transaction, so it exists exactly when your business change commits. After the commit qmq
checks (through its own connection to the same database) that the row is committed, sends
the message, and deletes the row. A row whose send failed stays in the table, and
``qmq-server watchdog`` resends it later with the same message id.

>>> outbox = qmq.Outbox(producer, database="app.db")          # or "postgres://..."
>>> outbox.create_table()
>>> conn = sqlite3.connect("app.db")                           # or psycopg.connect(url)
>>> with outbox.transaction(conn) as tx:
...     conn.execute("UPDATE account SET balance = balance - 10 WHERE id = 1")
...     tx.send(qmq.Message("account.changed", {"id": "1"}))
>>> tx.results                                                 # receipts (or errors)

Supported connections: ``sqlite3`` and psycopg 3 (``psycopg``). The outbox's ``database``
must be the database that connection writes to (for SQLite this is checked).
"""

from __future__ import annotations

import logging
import os
from typing import Any, List, NamedTuple, Optional, Tuple, Union

from . import _check, _dbapi, _native
from .errors import ClosedError, OutboxError
from .message import Message
from .producer import Producer

__all__ = ["Outbox", "OutboxReceipt", "OutboxRow", "OutboxTransaction"]

log = logging.getLogger("qmq.outbox")

DEFAULT_TABLE = "qmq_msg_queue"


class OutboxReceipt(NamedTuple):
    """A transactional message that was sent after its commit."""

    row_id: int
    """The outbox row."""
    message_id: str
    broker_group: str
    """The broker group that stored the message."""
    attempts: int
    row_deleted: bool
    """Whether the row was deleted. ``False`` if the delete failed after the broker stored the
    message: the watchdog sends it once more (same message id; consumers deduplicate)."""


class OutboxRow(NamedTuple):
    """One row of the outbox table (:meth:`Outbox.rows`)."""

    id: int
    content: str
    """QMQ's JSON of the message."""
    status: int
    """0 pending, -100 blocked by the broker, -1 send exception, -2 given up (QMQ's values)."""
    error: int
    """Failed attempts so far."""


SendResult = Union[OutboxReceipt, OutboxError]


def _result(raw: Any) -> SendResult:
    return OutboxReceipt(*raw) if isinstance(raw, tuple) else raw


def _error(
    kind: str,
    text: str,
    row_id: int,
    fate: str,
    message_id: Optional[str] = None,
    retriable: bool = False,
) -> OutboxError:
    error = OutboxError(text)
    error.kind = kind
    error.retriable = retriable
    error.row_id = row_id
    error.row_fate = fate
    error.message_id = message_id
    return error


class _SqliteRows:
    """A SQLite outbox table kept with Python's own ``sqlite3``.

    qmq's native module links its own copy of SQLite; two copies in one process ignore each
    other's locks, so the native side must never open a file that this process's ``sqlite3``
    connections use (https://www.sqlite.org/howtocorrupt.html, 2.2.1). The statements are the
    core's (``_native.outbox_sql``); only the sending is native. Each call uses a short-lived
    autocommit connection of its own, so rows are read as committed.
    """

    def __init__(self, path: str, table: str) -> None:
        self.path = path
        self.sql = _native.outbox_sql("sqlite", table, "qmark")

    def _connect(self) -> Any:
        import sqlite3

        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def create_table(self) -> None:
        conn = self._connect()
        try:
            conn.execute("BEGIN")
            for statement in self.sql["ddl"]:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def status(self, row_id: int) -> Optional[Tuple[int, int]]:
        conn = self._connect()
        try:
            row = conn.execute(self.sql["status"], (row_id,)).fetchone()
        finally:
            conn.close()
        return None if row is None else (int(row[0]), int(row[1]))

    def update(self, statement: str, row_id: int) -> int:
        conn = self._connect()
        try:
            return int(conn.execute(self.sql[statement], (row_id,)).rowcount)
        finally:
            conn.close()

    def rows(self) -> List[OutboxRow]:
        conn = self._connect()
        try:
            return [OutboxRow(*r) for r in conn.execute(self.sql["rows"]).fetchall()]
        finally:
            conn.close()

    def send(self, ref: Any, items: List[Tuple[Any, int]]) -> List[SendResult]:
        """The core's ``send_outboxed`` for rows kept here: check committed, send, then
        delete the row, or record the failure on it (BLOCK: status -100) for the watchdog."""
        results: List[Optional[SendResult]] = [None] * len(items)
        due: List[int] = []
        for i, (prepared, row_id) in enumerate(items):
            try:
                state = self.status(row_id)
            except Exception as e:  # noqa: BLE001 - reported per message
                results[i] = _error(
                    "Sqlite",
                    f"sqlite outbox {self.path}: status of row {row_id} failed: {e}",
                    row_id,
                    "unchanged",
                    prepared.message_id,
                    retriable=True,
                )
                continue
            if state is None or state[0] != 0:
                results[i] = _error(
                    "NotCommitted",
                    f"outbox row {row_id} is not committed (rolled back, or not committed"
                    " yet); nothing sent",
                    row_id,
                    "not_committed",
                )
                continue
            due.append(i)
        sent = ref.send_prepared([items[i][0] for i in due]) if due else []
        for i, (receipt, failure, blocked) in zip(due, sent):
            prepared, row_id = items[i]
            if receipt is not None:
                try:
                    self.update("delete", row_id)
                    deleted = True
                except Exception as e:  # noqa: BLE001
                    log.warning("outbox row %s not deleted after send: %s", row_id, e)
                    deleted = False
                results[i] = OutboxReceipt(row_id, *receipt, deleted)
                continue
            try:
                self.update("block" if blocked else "count_error", row_id)
                fate = "blocked" if blocked else "left_for_watchdog"
            except Exception as e:  # noqa: BLE001
                log.warning("outbox failure not recorded on row %s: %s", row_id, e)
                fate = "unchanged"
            error = _error(
                "Send",
                f"outbox row {row_id}: message {prepared.message_id} not sent ({fate}):"
                f" {failure}",
                row_id,
                fate,
                prepared.message_id,
                retriable=bool(getattr(failure, "retriable", False)),
            )
            error.__cause__ = failure
            results[i] = error
        return [r for r in results if r is not None]


class Outbox:
    """Transactional sends through ``producer`` with the outbox table ``table`` in
    ``database``: a SQLite file path, or a ``postgres://`` (or ``mysql://``) URL — the same
    database your connections write to. qmq opens its own connection to it (lazily) to check,
    delete or count rows after your commits (for SQLite a short-lived ``sqlite3`` one).

    ``create_table=True`` creates the table (shipped DDL, idempotent) right away; see also
    :meth:`create_table`.
    """

    def __init__(
        self,
        producer: Producer,
        database: Union[str, "os.PathLike[str]"],
        *,
        table: str = DEFAULT_TABLE,
        create_table: bool = False,
    ) -> None:
        _check.instance("producer", producer, Producer, "a qmq.Producer")
        if isinstance(database, os.PathLike):
            database = os.fspath(database)
        self._producer = producer
        self._ref = _native.OutboxRef(
            producer._ref, _check.string("database", database), _check.string("table", table)
        )
        path = self._ref.sqlite_path
        self._sqlite = None if path is None else _SqliteRows(path, self._ref.table)
        if _check.boolean("create_table", create_table):
            self.create_table()

    @property
    def producer(self) -> Producer:
        return self._producer

    @property
    def dialect(self) -> str:
        """``"sqlite"``, ``"postgres"`` or ``"mysql"``."""
        return self._ref.dialect

    @property
    def table(self) -> str:
        return self._ref.table

    @property
    def database(self) -> str:
        """The database (a URL without its password, or the SQLite file)."""
        return self._ref.location

    def create_table(self) -> None:
        """Creates the outbox table and its index if missing (the shipped DDL)."""
        if self._sqlite is not None:
            self._sqlite.create_table()
        else:
            self._ref.create_table()

    def _send(self, items: List[Tuple[Any, int]]) -> List[SendResult]:
        if self._sqlite is not None:
            return self._sqlite.send(self._ref, items)
        return [_result(r) for r in self._ref.send_committed(items)]

    def _driver(self, target: Any, name: str) -> "Tuple[_dbapi.Driver, Any]":
        driver = _dbapi.driver_of(target, name)
        if driver.dialect != self._ref.dialect:
            raise TypeError(
                f"{name} is a {driver.name} {type(target).__name__}, but the outbox database"
                f" is {self._ref.dialect} ({self.database})"
            )
        conn = driver.connection(target)
        expected = self._ref.sqlite_path
        if expected is not None:
            actual = driver.sqlite_file(conn) or ""
            if not _dbapi.same_file(actual, expected):
                raise ValueError(
                    f"the sqlite3 connection's database ({actual or 'in memory'!s}) is not the"
                    f" outbox database ({expected}): qmq could never see its rows"
                )
        return driver, conn

    def _insert(self, driver: "_dbapi.Driver", conn: Any, message: Message) -> Tuple[Any, int]:
        if not isinstance(message, Message):
            raise _check.fail("message", "a qmq.Message", message)
        prepared = self._ref.prepare(message)
        row_id = driver.insert_returning_id(
            conn, self._ref.insert_sql(driver.paramstyle), prepared.content
        )
        return prepared, row_id

    def transaction(
        self, conn: Any, *, raise_on_send_error: bool = False
    ) -> "OutboxTransaction":
        """A transaction on ``conn`` (a ``sqlite3`` or psycopg connection) to use with
        ``with``; ``tx.send(message)`` stages messages in it.

        Leaving the block normally commits ``conn``, then sends the staged messages and
        deletes their rows; ``tx.results`` then holds an :class:`OutboxReceipt` or an
        :class:`~qmq.errors.OutboxError` per message, in order. A failed send never undoes the
        commit: its row stays for the watchdog, the failure is logged (logger
        ``qmq.outbox``) and, with ``raise_on_send_error=True``, raised as ``OutboxError``
        after the commit. An exception in the block rolls back: nothing is sent.

        Work already pending on ``conn`` is committed (or rolled back) with the block. Do not
        commit or roll back ``conn`` inside the block, nor open it inside psycopg's own
        ``conn.transaction()`` block.

        :raises TypeError: ``conn`` is not a supported connection, or not of the outbox's
            database kind.
        """
        driver, conn = self._driver(conn, "conn")
        return OutboxTransaction(
            self, driver, conn, _check.boolean("raise_on_send_error", raise_on_send_error)
        )

    def stage(self, cursor: Any, message: Message) -> int:
        """Inserts ``message``'s row through ``cursor`` (a ``sqlite3`` or psycopg cursor or
        connection) in its current transaction, and returns the row id. After *you* commit,
        call :meth:`send_committed` with the same message and row id. If you roll back,
        simply do not call it. A committed row that is never sent is sent by the watchdog.
        (On an autocommit connection the row commits at once: open a transaction first.)

        The message id is fixed here: the row and the send carry the same one.
        """
        driver, conn = self._driver(cursor, "cursor")
        prepared, row_id = self._insert(driver, conn, message)
        staged = message._staged
        if staged is None:
            staged = message._staged = {}
        staged[row_id] = prepared
        return row_id

    def send_committed(self, message: Message, row_id: int) -> OutboxReceipt:
        """Sends the message of a committed row staged with :meth:`stage`, then deletes the
        row. Waits for the broker (interruptible).

        :raises OutboxError: ``row_fate`` says what became of the row: ``"not_committed"``
            (rolled back or not committed yet: nothing sent), ``"left_for_watchdog"``,
            ``"blocked"`` or ``"unchanged"`` (the send failed; the row stays).
        :raises ValueError: ``message`` was not staged as ``row_id`` by this process.
        """
        if not isinstance(message, Message):
            raise _check.fail("message", "a qmq.Message", message)
        row_id = _check.integer("row_id", row_id, 1)
        staged = message._staged or {}
        prepared = staged.get(row_id)
        if prepared is None:
            raise ValueError(f"message {message!r} was not staged as outbox row {row_id}")
        result = self._send([(prepared, row_id)])[0]
        if isinstance(result, OutboxError):
            if result.row_fate != "not_committed":
                staged.pop(row_id, None)
            raise result
        staged.pop(row_id, None)
        return result

    def rows(self) -> List[OutboxRow]:
        """Every row of the outbox table, by id (tests and tools; the watchdog is what resends
        pending rows)."""
        if self._sqlite is not None:
            return self._sqlite.rows()
        return [OutboxRow(*r) for r in self._ref.rows()]

    def __repr__(self) -> str:
        return f"Outbox({self.database!r}, table={self.table!r}, dialect={self.dialect!r})"


class OutboxTransaction:
    """One transaction of :meth:`Outbox.transaction`."""

    def __init__(
        self, outbox: Outbox, driver: "_dbapi.Driver", conn: Any, raise_on_send_error: bool
    ) -> None:
        self._outbox = outbox
        self._driver = driver
        self._conn = conn
        self._raise = raise_on_send_error
        self._token: Any = None
        self._staged: List[Tuple[Any, int]] = []
        self._state = "new"
        self.results: List[SendResult] = []
        """After the block: an :class:`OutboxReceipt` or ``OutboxError`` per staged message."""

    @property
    def connection(self) -> Any:
        return self._conn

    @property
    def committed(self) -> bool:
        return self._state == "committed"

    @property
    def errors(self) -> List[OutboxError]:
        """The failed sends (their rows wait for the watchdog)."""
        return [r for r in self.results if isinstance(r, OutboxError)]

    def send(self, message: Message) -> int:
        """Stages ``message`` in this transaction (inserts its row); it is sent after the
        commit. Returns the row id."""
        if self._state != "open":
            raise ClosedError(f"the outbox transaction is {self._state}; send inside its block")
        prepared, row_id = self._outbox._insert(self._driver, self._conn, message)
        self._staged.append((prepared, row_id))
        return row_id

    def __enter__(self) -> "OutboxTransaction":
        if self._state != "new":
            raise ClosedError("an outbox transaction can be entered once")
        self._token = self._driver.begin(self._conn)
        self._state = "open"
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._state = "rolled back"
            try:
                self._driver.rollback(self._conn, self._token, exc)
            except Exception:  # noqa: BLE001 - the block's own exception is what matters
                log.warning("rollback after an exception failed", exc_info=True)
            return
        try:
            self._driver.commit(self._conn, self._token)
        except BaseException as e:
            self._state = "failed"
            try:
                self._driver.rollback(self._conn, self._token, e)
            except Exception:  # noqa: BLE001
                pass
            raise
        self._state = "committed"
        if not self._staged:
            return
        self.results = self._outbox._send(self._staged)
        failed = self.errors
        for error in failed:
            log.warning(
                "transactional message %s (outbox row %s) not sent after commit; row %s: %s",
                error.message_id,
                error.row_id,
                error.row_fate,
                error,
            )
        if failed and self._raise:
            raise failed[0]

    def __repr__(self) -> str:
        return f"OutboxTransaction({self._state}, staged={len(self._staged)})"
