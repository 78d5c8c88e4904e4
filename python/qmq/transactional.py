"""Transactional idempotence: the dedup key is inserted in the same database transaction as
the handler's business work, so the work takes effect exactly once even when a delivery is
repeated or the handler fails half-way (QMQ's ``TransactionalJdbcIdempotentChecker``).

>>> @qmq.transactional_idempotent(connect=lambda: psycopg.connect(url))
... def on_order(msg, conn):
...     conn.execute("INSERT INTO invoice(order_id) VALUES (%s)", (msg["id"],))
>>> consumer.listen("order.created", on_order, group="billing")

Per message, on a connection from ``connect`` (one per handler thread, reused):

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
    ) -> None:
        self.handler = _check.callable_("handler", handler)
        self._connect = _check.callable_("connect", connect)
        self.table = _check.string("table", table)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: List[Any] = []
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

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            try:
                self._use_driver(conn)
            except BaseException:
                _close(conn)
                raise
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _discard(self, conn: Any) -> None:
        self._local.conn = None
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
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
        conn = self._connection()
        driver = self._use_driver(conn)
        token: Any = None
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
                self._discard(conn)
            else:
                if driver.broken(conn):
                    self._discard(conn)
            raise

    def close(self) -> None:
        """Closes the connections opened so far (each handler thread opens a new one if it
        runs again)."""
        with self._lock:
            conns, self._conns = self._conns, []
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
) -> Callable[[WorkHandler], TransactionalHandler]:
    """Decorator: makes ``handler(message, conn)`` a transactional, idempotent listener
    handler (see the module docs). ``connect()`` returns a new ``sqlite3`` or psycopg
    connection to the database holding both the business tables and the dedup table
    ``table``; it is called once per handler thread (and again after a connection broke).

    With ``create_table=True`` (default) decorating connects once to create the dedup table,
    so a wrong ``connect`` fails here (``TypeError`` for an unsupported connection).
    """
    _check.callable_("connect", connect)
    _check.string("table", table)
    _check.boolean("create_table", create_table)

    def wrap(handler: WorkHandler) -> TransactionalHandler:
        return TransactionalHandler(handler, connect, table, create_table)

    return wrap
