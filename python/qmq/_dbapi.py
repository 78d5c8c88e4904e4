"""The user's own DB-API connections, as the outbox and transactional idempotence use them.

Supported drivers: the standard library's ``sqlite3`` and psycopg 3 (``psycopg``). A driver is
recognised by the type of the connection (or cursor) handed in, never imported here: if the
caller holds a ``psycopg.Connection``, ``psycopg`` is already imported.

Transactions are explicit whatever the connection's mode:

* ``sqlite3``: ``BEGIN`` unless a transaction is already open (the legacy mode opens one only
  before DML, ``isolation_level=None`` never); ``COMMIT``/``ROLLBACK`` as statements when the
  connection is in ``autocommit=True`` mode (Python 3.12+, where ``commit()`` does nothing),
  else ``commit()``/``rollback()``;
* psycopg: a non-autocommit connection opens its transaction at the first statement and is
  ended with ``commit()``/``rollback()``; an autocommit one gets a ``conn.transaction()``
  block.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional

from . import _check

SUPPORTED = "a sqlite3 or psycopg (3.x) connection or cursor"


class Driver:
    """What qmq needs to know about one DB-API driver."""

    name = ""
    dialect = ""
    paramstyle = ""

    def connection(self, target: Any) -> Any:
        """The connection of a connection or cursor."""
        raise NotImplementedError

    def begin(self, conn: Any) -> Any:
        """Opens a transaction; returns a token for :meth:`commit` / :meth:`rollback`."""
        raise NotImplementedError

    def commit(self, conn: Any, token: Any) -> None:
        raise NotImplementedError

    def rollback(self, conn: Any, token: Any, exc: Optional[BaseException] = None) -> None:
        raise NotImplementedError

    def insert_returning_id(self, conn: Any, sql: str, value: str) -> int:
        """Runs an INSERT of one parameter on a new cursor; returns the new row's id."""
        raise NotImplementedError

    def execute_rowcount(self, conn: Any, sql: str, value: str) -> int:
        """Runs a statement of one parameter on a new cursor; returns the rows changed."""
        cur = conn.cursor()
        try:
            cur.execute(sql, (value,))
            return int(cur.rowcount)
        finally:
            cur.close()

    def execute_script(self, conn: Any, statements: List[str]) -> None:
        """Runs DDL statements in one transaction and commits."""
        token = self.begin(conn)
        try:
            cur = conn.cursor()
            try:
                for statement in statements:
                    cur.execute(statement)
            finally:
                cur.close()
        except BaseException as e:
            self.rollback(conn, token, e)
            raise
        self.commit(conn, token)

    def broken(self, conn: Any) -> bool:
        """Whether ``conn`` can no longer be used (closed or lost)."""
        return False

    def sqlite_file(self, conn: Any) -> Optional[str]:
        """The file of a SQLite connection's main database ('' in memory)."""
        return None


class _Sqlite(Driver):
    name = "sqlite3"
    dialect = "sqlite"
    paramstyle = "qmark"

    def connection(self, target: Any) -> Any:
        import sqlite3

        return target.connection if isinstance(target, sqlite3.Cursor) else target

    @staticmethod
    def _explicit(conn: Any) -> bool:
        # Python 3.12+: autocommit=True makes commit()/rollback() no-ops.
        return getattr(conn, "autocommit", None) is True

    def begin(self, conn: Any) -> Any:
        if not conn.in_transaction:
            conn.execute("BEGIN")
        return None

    def commit(self, conn: Any, token: Any) -> None:
        if self._explicit(conn):
            if conn.in_transaction:
                conn.execute("COMMIT")
        else:
            conn.commit()

    def rollback(self, conn: Any, token: Any, exc: Optional[BaseException] = None) -> None:
        if self._explicit(conn):
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        else:
            conn.rollback()

    def insert_returning_id(self, conn: Any, sql: str, value: str) -> int:
        cur = conn.cursor()
        try:
            cur.execute(sql, (value,))
            row_id = cur.lastrowid
        finally:
            cur.close()
        if not isinstance(row_id, int) or row_id <= 0:
            raise RuntimeError(f"sqlite3 reported no row id for the outbox row ({row_id!r})")
        return row_id

    def sqlite_file(self, conn: Any) -> Optional[str]:
        for row in conn.execute("PRAGMA database_list").fetchall():
            if row[1] == "main":
                return str(row[2] or "")
        return ""


class _Psycopg(Driver):
    name = "psycopg"
    dialect = "postgres"
    paramstyle = "format"

    def connection(self, target: Any) -> Any:
        import psycopg

        return target.connection if isinstance(target, psycopg.Cursor) else target

    def begin(self, conn: Any) -> Any:
        if conn.autocommit:
            block = conn.transaction()
            block.__enter__()
            return block
        return None

    def commit(self, conn: Any, token: Any) -> None:
        if token is not None:
            token.__exit__(None, None, None)
        else:
            conn.commit()

    def rollback(self, conn: Any, token: Any, exc: Optional[BaseException] = None) -> None:
        if token is not None:
            error = exc if isinstance(exc, Exception) else RuntimeError("rolled back")
            token.__exit__(type(error), error, error.__traceback__)
        else:
            conn.rollback()

    def insert_returning_id(self, conn: Any, sql: str, value: str) -> int:
        from psycopg.rows import tuple_row

        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(sql, (value,))
            row = cur.fetchone()
        if row is None:
            raise RuntimeError("the outbox INSERT returned no id")
        return int(row[0])

    def broken(self, conn: Any) -> bool:
        return bool(conn.closed or getattr(conn, "broken", False))


_SQLITE = _Sqlite()
_PSYCOPG = _Psycopg()


def driver_of(target: Any, name: str = "connection") -> Driver:
    """The driver of a connection or cursor; ``TypeError`` for anything else."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(target, (sqlite3.Connection, sqlite3.Cursor)):
        return _SQLITE
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        if isinstance(target, (psycopg.Connection, psycopg.Cursor)):
            return _PSYCOPG
        if isinstance(target, (psycopg.AsyncConnection, psycopg.AsyncCursor)):
            raise TypeError(
                f"{name} must be {SUPPORTED}; psycopg's async connections are not supported"
            )
    raise _check.fail(name, SUPPORTED, target)


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (both resolved; an empty path is in memory)."""
    if not a or not b:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)
