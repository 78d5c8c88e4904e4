//! [`OutboxDatabase`]: the core's own connection to a database holding an outbox table, for
//! the work that must not go through the caller's (busy) connection: checking that a staged
//! row was committed, deleting it after the broker stored the message, counting failures, and
//! the watchdog's claims.
//!
//! Invariants:
//! * one connection, opened lazily and behind a mutex; any error drops it, so the next call
//!   reconnects (a database that went away and came back needs no restart);
//! * every method blocks (network or disk I/O). Call them from a plain thread or
//!   `spawn_blocking`; PostgreSQL's synchronous driver panics inside an async task.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::dialect::{Dialect, Statements};
use super::error::OutboxError;
use super::location::DatabaseLocation;
use super::schema::{DEFAULT_TABLE, ddl};

/// One row of the outbox table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Primary key; added to a resent message as `qmq_sequence`.
    pub id: i64,
    /// The message, see [`encode_content`](super::encode_content).
    pub content: String,
    /// 0 pending, -100 blocked by the broker, -1 send exception, -2 bad content or too many
    /// errors (QMQ's values).
    pub status: i16,
    /// Failed attempts so far.
    pub error: i64,
}

enum Conn {
    Sqlite(rusqlite::Connection),
    #[cfg(feature = "postgres")]
    Postgres(postgres::Client),
    #[cfg(feature = "mysql")]
    MySql(mysql::Conn),
}

/// The core's own connection to one outbox table; share it with `Arc`.
pub struct OutboxDatabase {
    location: DatabaseLocation,
    shown: String,
    stmts: Statements,
    conn: Mutex<Option<Conn>>,
}

impl std::fmt::Debug for OutboxDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxDatabase")
            .field("location", &self.shown)
            .field("table", &self.stmts.table)
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with the connection of the right driver bound to `$c`.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $sqlite:expr, $pg:expr, $my:expr) => {
        match $conn {
            Conn::Sqlite($c) => $sqlite,
            #[cfg(feature = "postgres")]
            Conn::Postgres($c) => $pg,
            #[cfg(feature = "mysql")]
            Conn::MySql($c) => $my,
        }
    };
}

impl OutboxDatabase {
    /// An outbox in `table` at `location`; nothing is connected until the first call.
    ///
    /// # Errors
    /// [`OutboxError::InvalidTableName`], [`OutboxError::DriverMissing`].
    pub fn new(location: DatabaseLocation, table: &str) -> Result<Self, OutboxError> {
        let dialect = location.dialect();
        match dialect {
            Dialect::Sqlite => {}
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {}
            #[cfg(feature = "mysql")]
            Dialect::MySql => {}
            #[allow(unreachable_patterns, reason = "reachable without a feature")]
            _ => return Err(OutboxError::DriverMissing { dialect }),
        }
        Ok(Self {
            shown: location.display(),
            stmts: Statements::new(dialect, table)?,
            location,
            conn: Mutex::new(None),
        })
    }

    /// [`OutboxDatabase::new`] for a location string and QMQ's table name.
    ///
    /// # Errors
    /// As [`DatabaseLocation::parse`] and [`OutboxDatabase::new`].
    pub fn open(location: &str) -> Result<Self, OutboxError> {
        Self::new(DatabaseLocation::parse(location)?, DEFAULT_TABLE)
    }

    /// The database's dialect.
    pub fn dialect(&self) -> Dialect {
        self.stmts.dialect
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.stmts.table
    }

    /// Where the database is.
    pub fn location(&self) -> &DatabaseLocation {
        &self.location
    }

    /// The location for logs (no password).
    pub fn display(&self) -> &str {
        &self.shown
    }

    /// The INSERT for [`StageTransaction`](super::StageTransaction), native parameter style.
    pub(crate) fn insert_statement(&self) -> &str {
        &self.stmts.insert
    }

    /// Creates the table and its index if missing (the shipped DDL).
    ///
    /// # Errors
    /// A driver error naming the step.
    pub fn create_table(&self) -> Result<(), OutboxError> {
        let ddl = ddl(self.dialect(), self.table())?;
        let shown = self.shown.clone();
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::create(c, &ddl, &shown),
                super::postgres::create(c, &ddl, &shown),
                super::mysql::create(c, &ddl, &shown))
        })
    }

    /// Inserts a row outside any caller transaction (tests, tools); returns its id.
    ///
    /// # Errors
    /// A driver error.
    pub fn insert(&self, content: &str) -> Result<i64, OutboxError> {
        let (sql, shown) = (&self.stmts.insert, &self.shown);
        self.run_with(false, |conn| {
            with_conn!(conn, c =>
                super::sqlite::insert(c, sql, content, shown),
                super::postgres::insert(c, sql, content, shown),
                super::mysql::insert(c, sql, content, shown))
        })
    }

    /// Deletes row `id` (its message is stored by a broker). Returns whether it existed.
    ///
    /// # Errors
    /// A driver error.
    pub fn delete(&self, id: i64) -> Result<bool, OutboxError> {
        self.exec_id(&self.stmts.delete, id, "delete")
            .map(|n| n > 0)
    }

    /// QMQ's BLOCK: `status = -100, error = error + 1`.
    ///
    /// # Errors
    /// A driver error.
    pub fn block(&self, id: i64) -> Result<bool, OutboxError> {
        self.exec_id(&self.stmts.block, id, "block").map(|n| n > 0)
    }

    /// `error = error + 1`, status unchanged: a failed send the watchdog will retry.
    ///
    /// # Errors
    /// A driver error.
    pub fn count_error(&self, id: i64) -> Result<bool, OutboxError> {
        self.exec_id(&self.stmts.count_error, id, "count error")
            .map(|n| n > 0)
    }

    /// `status = status, error = error + 1`: the watchdog's verdict on a row.
    ///
    /// # Errors
    /// A driver error.
    pub fn mark(&self, id: i64, status: i16) -> Result<bool, OutboxError> {
        let (sql, shown) = (&self.stmts.mark, &self.shown);
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::mark(c, sql, status, id, shown),
                super::postgres::mark(c, sql, status, id, shown),
                super::mysql::mark(c, sql, status, id, shown))
        })
        .map(|n| n > 0)
    }

    /// `(status, error)` of row `id`, `None` if there is no such (committed) row.
    ///
    /// # Errors
    /// A driver error.
    pub fn status(&self, id: i64) -> Result<Option<(i16, i64)>, OutboxError> {
        Ok(self.row(id)?.map(|r| (r.status, r.error)))
    }

    /// Row `id`, `None` if there is no such (committed) row.
    ///
    /// # Errors
    /// A driver error.
    pub fn row(&self, id: i64) -> Result<Option<OutboxRow>, OutboxError> {
        let (sql, shown) = (&self.stmts.get, &self.shown);
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::get(c, sql, id, shown),
                super::postgres::get(c, sql, id, shown),
                super::mysql::get(c, sql, id, shown))
        })
    }

    /// Every row, by id.
    ///
    /// # Errors
    /// A driver error.
    pub fn rows(&self) -> Result<Vec<OutboxRow>, OutboxError> {
        let (sql, shown) = (&self.stmts.all, &self.shown);
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::all(c, sql, shown),
                super::postgres::all(c, sql, shown),
                super::mysql::all(c, sql, shown))
        })
    }

    /// Claims up to `limit` pending rows (`status = 0`) last updated more than `age` ago,
    /// oldest id first: in one transaction they are selected (locked) and their
    /// `update_time` set to now, so no other claim sees them for another `age`.
    ///
    /// # Errors
    /// A driver error; nothing is claimed then.
    pub fn claim_due(&self, age: Duration, limit: u32) -> Result<Vec<OutboxRow>, OutboxError> {
        let (stmts, shown) = (&self.stmts, &self.shown);
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::claim(c, stmts, age, limit, shown),
                super::postgres::claim(c, stmts, age, limit, shown),
                super::mysql::claim(c, stmts, age, limit, shown))
        })
    }

    /// Drops the connection; the next call reconnects.
    pub fn disconnect(&self) {
        *self.lock() = None;
    }

    fn exec_id(&self, sql: &str, id: i64, op: &'static str) -> Result<u64, OutboxError> {
        let shown = &self.shown;
        self.run(|conn| {
            with_conn!(conn, c =>
                super::sqlite::exec_id(c, sql, id, op, shown),
                super::postgres::exec_id(c, sql, id, op, shown),
                super::mysql::exec_id(c, sql, id, op, shown))
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Conn>> {
        // A panic while holding the lock leaves at worst a connection mid-statement; the
        // next error drops it.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the connection, connecting first if needed; drops the connection when `f`
    /// fails so that a broken one is never reused. When a connection that had been idle in
    /// the pool fails at the connection level (the server restarted since), `f` is run once
    /// more on a fresh connection: callers would otherwise see one spurious failure after
    /// every database restart.
    fn run<T>(&self, f: impl FnMut(&mut Conn) -> Result<T, OutboxError>) -> Result<T, OutboxError> {
        self.run_with(true, f)
    }

    /// [`Self::run`], with the retry on a lost connection only if `retry` (an INSERT is not
    /// retried: it may have been applied before the connection broke).
    fn run_with<T>(
        &self,
        retry: bool,
        mut f: impl FnMut(&mut Conn) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
        let mut guard = self.lock();
        let reused = retry && guard.is_some();
        let conn = match guard.take() {
            Some(conn) => guard.insert(conn),
            None => guard.insert(self.connect()?),
        };
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) if reused && e.is_connection_lost() => {
                *guard = None;
                let conn = guard.insert(self.connect()?);
                let result = f(conn);
                if result.is_err() {
                    *guard = None;
                }
                result
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }

    fn connect(&self) -> Result<Conn, OutboxError> {
        match &self.location {
            DatabaseLocation::Sqlite(path) => {
                super::sqlite::connect(path, &self.shown).map(Conn::Sqlite)
            }
            #[cfg(feature = "postgres")]
            DatabaseLocation::Postgres(url) => {
                super::postgres::connect(url, &self.shown).map(Conn::Postgres)
            }
            #[cfg(feature = "mysql")]
            DatabaseLocation::MySql(url) => {
                super::mysql::connect(url, &self.shown).map(Conn::MySql)
            }
            #[allow(unreachable_patterns, reason = "reachable without a feature")]
            other => Err(OutboxError::DriverMissing {
                dialect: other.dialect(),
            }),
        }
    }
}
