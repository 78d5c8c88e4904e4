"""Transactional idempotence: the dedup key is inserted in the same database transaction as
the handler's business work, so the work takes effect exactly once even when a delivery is
repeated or the handler fails half-way (QMQ's ``TransactionalJdbcIdempotentChecker``).

>>> @qmq.transactional_idempotent(connect=lambda: psycopg.connect(url))
... def on_order(msg, conn):
...     conn.execute("INSERT INTO invoice(order_id) VALUES (%s)", (msg["id"],))
>>> consumer.listen("order.created", on_order, group="billing")

Per message, on a connection from ``connect`` (psycopg ones are kept for reuse):

1. a transaction is opened and the key ``<subject>%<group>%<messageId>`` inserted into the
   dedup table (``INSERT ... ON CONFLICT DO NOTHING`` / ``INSERT OR IGNORE``);
2. the key was there already ⇒ roll back and ack: the handler does not run;
3. otherwise the handler runs with the connection; returning ⇒ commit ⇒ ack; raising ⇒ roll
   back (the key goes with the work) ⇒ the message is retried.

A concurrent delivery of the same message waits on the first one's uncommitted key, so the two
never both run the work. The handler must not commit or roll back the connection itself.
Supported connections: ``sqlite3`` and psycopg 3. Do not also pass ``idempotence=`` to the
listener: that store's mark would run outside this transaction.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List, Optional

from . import _check, _dbapi, _native
from .message import ReceivedMessage

__all__ = ["TransactionalHandler", "transactional_idempotent"]

log = logging.getLogger("qmq.transactional")

DEFAULT_TABLE = "deduplicate_tbl"

WorkHandler = Callable[[ReceivedMessage, Any], Any]


class TransactionalHandler:
    """A listener handler made by :func:`transactional_idempotent`.

    Pass it to :meth:`Consumer.listen` (or decorate with ``consumer.subscribe``): the
    subscription supplies the subject and group of the key. With a pull consumer call
    :meth:`process` and ack the message after it returns. Calling the object with
    ``(message, conn)`` calls the wrapped function directly (handy in unit tests).
    """

    def __init__(
        self,
        handler: WorkHandler,
        connect: Callable[[], Any],
        table: str,
        create_table: bool,
        max_idle: int = 8,
    ) -> None:
        self.handler = _check.callable_("handler", handler)
        self._connect = _check.callable_("connect", connect)
        self.table = _check.string("table", table)
        self._max_idle = _check.integer("max_idle", max_idle, 0)
        self._lock = threading.Lock()
        self._idle: List[Any] = []
        self._driver: Optional[_dbapi.Driver] = None
        self._sql = ""
        if create_table:
            self.create_table()
        try:
            self.__name__ = handler.__name__  # type: ignore[attr-defined]
            self.__doc__ = handler.__doc__
        except AttributeError:
            pass

    def __call__(self, message: ReceivedMessage, conn: Any) -> Any:
        return self.handler(message, conn)

    def _use_driver(self, conn: Any) -> _dbapi.Driver:
        driver = _dbapi.driver_of(conn, "the connection returned by connect()")
        if self._driver is None:
            self._sql = _native.dedup_insert_sql(driver.dialect, self.table, driver.paramstyle)
            self._driver = driver
        elif driver is not self._driver:
            raise TypeError(
                f"connect() returned a {driver.name} connection after a {self._driver.name} one"
            )
        return driver

    def create_table(self) -> None:
        """Creates the dedup table (shipped DDL, idempotent) on a fresh connection from
        ``connect``, which is then closed. Also checks the connection type.

        :raises TypeError: ``connect`` returned something other than a ``sqlite3`` or psycopg
            connection.
        """
        conn = self._connect()
        try:
            driver = self._use_driver(conn)
            driver.execute_script(conn, _native.dedup_ddl(driver.dialect, self.table))
        finally:
            _close(conn)

    def _acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        try:
            self._use_driver(conn)
        except BaseException:
            _close(conn)
            raise
        return conn

    def _release(self, conn: Any, reusable: bool) -> None:
        # sqlite3 connections refuse other threads, and qmq's handler threads come and go:
        # a fresh one per message (cheap: a file open). Others wait idle for the next message.
        driver = self._driver
        if reusable and driver is not None and driver.name != "sqlite3" and not driver.broken(conn):
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        _close(conn)

    def process(self, message: ReceivedMessage, group: str, subject: Optional[str] = None) -> bool:
        """Runs the handler for ``message`` consumed by ``group`` (of ``subject``, by default
        the message's) unless its key was committed already. Returns ``True`` if the handler
        ran and the transaction committed, ``False`` for a duplicate (ack it either way).

        :raises: the handler's exception, or the database's, after a rollback (retry the
            message).
        """
        if not isinstance(message, ReceivedMessage):
            raise _check.fail("message", "a qmq.ReceivedMessage", message)
        key = _native.idempotence_key(
            subject if subject is not None else message.subject,
            _check.string("group", group),
            message.message_id,
        )
        conn = self._acquire()
        driver = self._use_driver(conn)
        token: Any = None
        reusable = True
        try:
            token = driver.begin(conn)
            if driver.execute_rowcount(conn, self._sql, key) == 0:
                driver.rollback(conn, token)
                return False
            self.handler(message, conn)
            driver.commit(conn, token)
            return True
        except BaseException as e:
            try:
                driver.rollback(conn, token, e)
            except Exception:  # noqa: BLE001 - the original error is what is raised
                log.debug("rollback failed; dropping the connection", exc_info=True)
                reusable = False
            raise
        finally:
            self._release(conn, reusable)

    def close(self) -> None:
        """Closes the idle connections (a later message opens a new one)."""
        with self._lock:
            conns, self._idle = self._idle, []
        for conn in conns:
            _close(conn)

    def __repr__(self) -> str:
        return f"TransactionalHandler({self.handler!r}, table={self.table!r})"


def _close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - e.g. a sqlite3 connection of another thread
        pass


def transactional_idempotent(
    connect: Callable[[], Any],
    *,
    table: str = DEFAULT_TABLE,
    create_table: bool = True,
    max_idle: int = 8,
) -> Callable[[WorkHandler], TransactionalHandler]:
    """Decorator: makes ``handler(message, conn)`` a transactional, idempotent listener
    handler (see the module docs). ``connect()`` returns a new ``sqlite3`` or psycopg
    connection to the database holding both the business tables and the dedup table
    ``table``. psycopg connections are reused: up to ``max_idle`` wait for the next message
    (one that broke is dropped); ``sqlite3`` ones, which refuse other threads, are opened per
    message and closed after it.

    With ``create_table=True`` (default) decorating connects once to create the dedup table,
    so a wrong ``connect`` fails here (``TypeError`` for an unsupported connection).
    """
    _check.callable_("connect", connect)
    _check.string("table", table)
    _check.boolean("create_table", create_table)
    _check.integer("max_idle", max_idle, 0)

    def wrap(handler: WorkHandler) -> TransactionalHandler:
        return TransactionalHandler(handler, connect, table, create_table, max_idle)

    return wrap
