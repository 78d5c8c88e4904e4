//! SQLite idempotence store in the shape of QMQ's `deduplicate_tbl`.
//!
//! ```sql
//! CREATE TABLE deduplicate_tbl (
//!   id        INTEGER PRIMARY KEY AUTOINCREMENT,
//!   k         VARCHAR(100) NOT NULL UNIQUE,
//!   update_at TIMESTAMP NOT NULL          -- milliseconds since the Unix epoch, UTC
//! );
//! CREATE INDEX deduplicate_tbl_update_at ON deduplicate_tbl(update_at);
//! ```
//!
//! Invariants:
//! * `mark` is one statement, `INSERT OR IGNORE` (Java: `INSERT IGNORE`): one row changed ⇒
//!   first time. With a TTL it is an upsert that only overwrites a row older than the TTL, so
//!   marking stays atomic in SQLite and across processes sharing the file;
//! * `update_at` is stored as integer epoch milliseconds (SQLite has no timestamp type; the
//!   column keeps QMQ's declared type for familiarity);
//! * one connection behind a mutex; file databases use WAL and a busy timeout so several
//!   processes can share one file;
//! * transactional mode ([`TransactionalIdempotence`]) runs on that same connection with
//!   `BEGIN IMMEDIATE`, so the business tables live in the same file and other calls on the
//!   store wait for the transaction.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, Transaction, params};

use super::dialect::{DEFAULT_TABLE, Dialect, StoreSql, ddl, validate_table};
use super::transactional::{Processed, TransactionalError, TransactionalIdempotence};
use super::{Clock, IdempotenceError, IdempotenceKey, IdempotenceStore, MarkOutcome, SystemClock};

/// Options of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteStoreConfig {
    /// Table name; a plain identifier. Default [`DEFAULT_TABLE`].
    pub table: String,
    /// Age at which a key counts as absent for `mark`; `None` (default, as in QMQ) keeps keys
    /// until [`IdempotenceStore::gc`] removes them.
    pub ttl: Option<Duration>,
    /// How long a statement waits for a lock held by another connection. Default 5 s.
    pub busy_timeout: Duration,
}

impl Default for SqliteStoreConfig {
    fn default() -> Self {
        Self {
            table: DEFAULT_TABLE.to_owned(),
            ttl: None,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// An [`IdempotenceStore`] in a SQLite database (file or in-memory).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    location: String,
    ttl: Option<Duration>,
    clock: Arc<dyn Clock>,
    sql: StoreSql,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("location", &self.location)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and the table.
    ///
    /// # Errors
    /// [`IdempotenceError::InvalidTableName`], or [`IdempotenceError::Sqlite`] naming the step.
    pub fn open(
        path: impl AsRef<Path>,
        config: SqliteStoreConfig,
    ) -> Result<Self, IdempotenceError> {
        let location = path.as_ref().display().to_string();
        validate_table(&config.table)?;
        let conn = Connection::open(path.as_ref()).map_err(sqlite_err(&location, "open"))?;
        // WAL lets readers and the writer of other processes proceed concurrently.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
            .map_err(sqlite_err(&location, "enable WAL"))?;
        Self::init(conn, location, config)
    }

    /// A private in-memory database (lost when the store is dropped).
    ///
    /// # Errors
    /// [`IdempotenceError::InvalidTableName`], or [`IdempotenceError::Sqlite`] naming the step.
    pub fn open_in_memory(config: SqliteStoreConfig) -> Result<Self, IdempotenceError> {
        let location = ":memory:".to_owned();
        validate_table(&config.table)?;
        let conn = Connection::open_in_memory().map_err(sqlite_err(&location, "open"))?;
        Self::init(conn, location, config)
    }

    /// Reads time from `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Number of rows in the table.
    ///
    /// # Errors
    /// [`IdempotenceError::Sqlite`] if the query fails.
    pub fn row_count(&self) -> Result<u64, IdempotenceError> {
        let conn = self.lock();
        conn.query_row(&self.sql.count, [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sqlite_err(&self.location, "count"))
    }

    fn init(
        conn: Connection,
        location: String,
        config: SqliteStoreConfig,
    ) -> Result<Self, IdempotenceError> {
        conn.busy_timeout(config.busy_timeout)
            .map_err(sqlite_err(&location, "set busy timeout"))?;
        conn.execute_batch(&ddl(Dialect::Sqlite, &config.table)?)
            .map_err(sqlite_err(&location, "create table"))?;
        let sql = StoreSql::new(Dialect::Sqlite, &config.table, config.ttl.is_some())?;
        Ok(Self {
            conn: Mutex::new(conn),
            location,
            ttl: config.ttl,
            clock: Arc::new(SystemClock),
            sql,
        })
    }

    /// The mark statement on `conn` (the store's connection, or a transaction on it).
    fn mark_on(
        &self,
        conn: &Connection,
        key: &IdempotenceKey,
    ) -> Result<MarkOutcome, IdempotenceError> {
        let now = self.clock.now();
        let mut stmt = conn
            .prepare_cached(&self.sql.mark)
            .map_err(sqlite_err(&self.location, "prepare mark"))?;
        let changed = match self.ttl {
            Some(ttl) => {
                let cutoff = now.checked_sub(ttl).unwrap_or(UNIX_EPOCH);
                stmt.execute(params![key.as_str(), millis(now), millis(cutoff)])
            }
            None => stmt.execute(params![key.as_str(), millis(now)]),
        }
        .map_err(sqlite_err(&self.location, "mark"))?;
        Ok(if changed > 0 {
            MarkOutcome::FirstTime
        } else {
            MarkOutcome::Duplicate
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // No code path panics while holding the lock; recover from poison anyway.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl IdempotenceStore for SqliteStore {
    fn mark(&self, key: &IdempotenceKey) -> Result<MarkOutcome, IdempotenceError> {
        let conn = self.lock();
        self.mark_on(&conn, key)
    }

    fn forget(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        let conn = self.lock();
        conn.prepare_cached(&self.sql.forget)
            .and_then(|mut s| s.execute(params![key.as_str()]))
            .map_err(sqlite_err(&self.location, "forget"))?;
        Ok(())
    }

    fn complete(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        let now = self.clock.now();
        let conn = self.lock();
        conn.prepare_cached(&self.sql.complete)
            .and_then(|mut s| s.execute(params![key.as_str(), millis(now)]))
            .map_err(sqlite_err(&self.location, "complete"))?;
        Ok(())
    }

    fn gc(&self, older_than: SystemTime) -> Result<u64, IdempotenceError> {
        let conn = self.lock();
        let n = conn
            .prepare_cached(&self.sql.gc)
            .and_then(|mut s| s.execute(params![millis(older_than)]))
            .map_err(sqlite_err(&self.location, "gc"))?;
        Ok(n as u64)
    }
}

/// The transaction runs on the store's single connection, so the business tables must live in
/// the same database file; other calls on the store wait until it ends.
impl TransactionalIdempotence for SqliteStore {
    type Tx<'t> = Transaction<'t>;

    fn process_in_transaction<T, E>(
        &self,
        key: &IdempotenceKey,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<Processed<T>, TransactionalError<E>> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
        // could fail to upgrade with SQLITE_BUSY under another process's writer.
        let mut tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_err(&self.location, "begin"))?;
        if self.mark_on(&tx, key)? == MarkOutcome::Duplicate {
            tx.rollback()
                .map_err(sqlite_err(&self.location, "rollback"))?;
            return Ok(Processed::Duplicate);
        }
        match work(&mut tx) {
            Ok(v) => {
                tx.commit().map_err(sqlite_err(&self.location, "commit"))?;
                Ok(Processed::Done(v))
            }
            Err(e) => {
                tx.rollback()
                    .map_err(sqlite_err(&self.location, "rollback"))?;
                Err(TransactionalError::Work(e))
            }
        }
    }
}

/// Epoch milliseconds; times before the epoch clamp to 0, after year ~292M to `i64::MAX`.
fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn sqlite_err(
    location: &str,
    op: &'static str,
) -> impl FnOnce(rusqlite::Error) -> IdempotenceError {
    let location = location.to_owned();
    move |source| IdempotenceError::Sqlite {
        location,
        op,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_deduplicate_tbl_shape() {
        let s = SqliteStore::open_in_memory(SqliteStoreConfig::default()).unwrap();
        let conn = s.lock();
        let mut stmt = conn.prepare("PRAGMA table_info(deduplicate_tbl)").unwrap();
        let cols: Vec<(String, String, bool, bool)> = stmt
            .query_map([], |r| {
                Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(5)? == 1))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            cols,
            [
                ("id".into(), "INTEGER".into(), false, true),
                ("k".into(), "VARCHAR(100)".into(), true, false),
                ("update_at".into(), "TIMESTAMP".into(), true, false),
            ]
        );
    }

    #[test]
    fn persists_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dedup.db");
        let k = IdempotenceKey::new("s", "g", "m1");
        {
            let s = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap();
            assert_eq!(s.mark(&k).unwrap(), MarkOutcome::FirstTime);
            s.complete(&k).unwrap();
        }
        let s = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap();
        assert_eq!(s.mark(&k).unwrap(), MarkOutcome::Duplicate);
        assert_eq!(s.row_count().unwrap(), 1);
    }

    #[test]
    fn two_connections_on_one_file_admit_one_mark() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.db");
        let a = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap();
        let b = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap();
        let k = IdempotenceKey::new("s", "g", "m");
        assert_eq!(a.mark(&k).unwrap(), MarkOutcome::FirstTime);
        assert_eq!(b.mark(&k).unwrap(), MarkOutcome::Duplicate);
    }

    #[test]
    fn table_names_must_be_identifiers() {
        for bad in ["", "1abc", "a-b", "x\"; DROP TABLE y; --", &"a".repeat(65)] {
            let err = SqliteStore::open_in_memory(SqliteStoreConfig {
                table: bad.to_owned(),
                ..SqliteStoreConfig::default()
            })
            .unwrap_err();
            assert!(
                matches!(err, IdempotenceError::InvalidTableName { .. }),
                "{bad}"
            );
        }
        SqliteStore::open_in_memory(SqliteStoreConfig {
            table: "_my_dedup_2".into(),
            ..SqliteStoreConfig::default()
        })
        .unwrap();
    }

    #[test]
    fn unopenable_file_names_the_location() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("x.db");
        let err = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap_err();
        assert!(err.to_string().contains("missing-dir"), "{err}");
        assert!(!err.is_retriable());
    }
}
