//! MySQL/MariaDB idempotence store (feature `mysql`) on QMQ's `deduplicate_tbl`
//! (`core/sql/mysql/deduplicate_tbl.sql`), compatible with tables created for QMQ's Java
//! `JdbcIdempotentChecker`.
//!
//! Invariants:
//! * `mark` is one statement, QMQ's `INSERT IGNORE` (with a TTL, `INSERT … ON DUPLICATE KEY
//!   UPDATE` that only takes over a row older than the TTL): one row changed ⇒ first time. The
//!   UNIQUE key makes it atomic; InnoDB makes a concurrent insert of a key held by an
//!   uncommitted transaction wait for that transaction;
//! * `update_at` is `TIMESTAMP` (whole seconds) written from the store's [`Clock`], truncated to
//!   the second, in a session whose `time_zone` is `+00:00`, so values are UTC and gc
//!   cut-offs are exact to the second;
//! * pooled connections; one that failed at the connection level is dropped, so a restarted
//!   server is reconnected on the next call. `mark` is never retried internally (its insert
//!   may have landed); `forget`, `complete`, `gc` are retried once on a fresh connection.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Timelike, Utc};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Transaction, TxOpts, Value};

use super::dialect::{self, Dialect, StoreSql};
use super::pool::{CheckoutError, Pool, PoolConfig, Pooled, run_with_reconnect};
use super::transactional::{Processed, TransactionalError, TransactionalIdempotence};
use super::{
    Clock, IdempotenceError, IdempotenceKey, IdempotenceStore, MarkOutcome, SystemClock, redact_url,
};

/// Options of a [`MySqlStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MySqlStoreConfig {
    /// `mysql://user[:password]@host:port/database`.
    pub url: String,
    /// Table name; a plain identifier. Default [`dialect::DEFAULT_TABLE`].
    pub table: String,
    /// Age at which a key counts as absent for `mark`; `None` (default, as in QMQ) keeps keys
    /// until [`IdempotenceStore::gc`] removes them.
    pub ttl: Option<Duration>,
    /// Create the table (shipped DDL) when connecting. Default `true`.
    pub create_table: bool,
    /// Timeout of each new connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Read and write timeout of a statement. Default 30 s.
    pub io_timeout: Duration,
    /// Pool limits.
    pub pool: PoolConfig,
}

impl MySqlStoreConfig {
    /// Defaults for the database at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            table: dialect::DEFAULT_TABLE.to_owned(),
            ttl: None,
            create_table: true,
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(30),
            pool: PoolConfig::default(),
        }
    }
}

/// An [`IdempotenceStore`] (and [`TransactionalIdempotence`]) in a MySQL or MariaDB table.
pub struct MySqlStore {
    pool: Pool<Conn>,
    opts: Opts,
    target: String,
    ttl: Option<Duration>,
    clock: Arc<dyn Clock>,
    sql: StoreSql,
}

impl std::fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlStore")
            .field("target", &self.target)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl MySqlStore {
    /// Connects once (creating the table unless told not to), so that a wrong URL or missing
    /// rights fail here rather than on the first message.
    ///
    /// # Errors
    /// [`IdempotenceError::InvalidTableName`], or [`IdempotenceError::MySql`] naming the step.
    pub fn connect(config: MySqlStoreConfig) -> Result<Self, IdempotenceError> {
        let target = redact_url(&config.url);
        let sql = StoreSql::new(Dialect::MySql, &config.table, config.ttl.is_some())?;
        let parsed = Opts::from_url(&config.url).map_err(|e| IdempotenceError::MySql {
            target: target.clone(),
            op: "parse url",
            source: e.into(),
        })?;
        let opts: Opts = OptsBuilder::from_opts(parsed)
            .tcp_connect_timeout(Some(config.connect_timeout))
            .read_timeout(Some(config.io_timeout))
            .write_timeout(Some(config.io_timeout))
            // TIMESTAMP columns convert through the session time zone; pin it to UTC.
            .init(vec!["SET time_zone = '+00:00'"])
            .into();
        let store = Self {
            pool: Pool::new(config.pool),
            opts,
            target,
            ttl: config.ttl,
            clock: Arc::new(SystemClock),
            sql,
        };
        if config.create_table {
            let ddl = dialect::ddl(Dialect::MySql, &config.table)?;
            store.with_conn("create table", false, |c| c.query_drop(&ddl))?;
        } else {
            store.with_conn("check table", false, |c| c.query_drop(&store.sql.count))?;
        }
        Ok(store)
    }

    /// Reads time from `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Number of rows in the table.
    ///
    /// # Errors
    /// [`IdempotenceError::MySql`] if the query fails.
    pub fn row_count(&self) -> Result<u64, IdempotenceError> {
        self.with_conn("count", true, |c| {
            Ok(c.query_first::<u64, _>(&self.sql.count)?.unwrap_or(0))
        })
    }

    fn conn(&self) -> Result<Pooled<'_, Conn>, IdempotenceError> {
        self.pool
            .get(|| Conn::new(self.opts.clone()))
            .map_err(|e| match e {
                CheckoutError::Connect(source) => IdempotenceError::MySql {
                    target: self.target.clone(),
                    op: "connect",
                    source,
                },
                CheckoutError::Timeout(waited) => IdempotenceError::PoolTimeout {
                    backend: "mysql",
                    target: self.target.clone(),
                    waited,
                },
            })
    }

    /// Runs `f` on a pooled connection; a connection-level failure drops the connection and,
    /// when `retry` (idempotent operations only), runs `f` once more on a fresh one.
    fn with_conn<T>(
        &self,
        op: &'static str,
        retry: bool,
        f: impl Fn(&mut Conn) -> Result<T, mysql::Error>,
    ) -> Result<T, IdempotenceError> {
        run_with_reconnect(
            || self.conn(),
            retry,
            f,
            |e, _| is_broken(e),
            |source| IdempotenceError::MySql {
                target: self.target.clone(),
                op,
                source,
            },
        )
    }

    fn mark_params(&self, key: &IdempotenceKey) -> Vec<Value> {
        let now = self.clock.now();
        let mut params = vec![Value::from(key.as_str()), timestamp(now)];
        if let Some(ttl) = self.ttl {
            params.push(timestamp(now.checked_sub(ttl).unwrap_or(UNIX_EPOCH)));
        }
        params
    }
}

/// Whether the connection is unusable after `e` (as opposed to an error reported by a healthy
/// server).
fn is_broken(e: &mysql::Error) -> bool {
    matches!(
        e,
        mysql::Error::IoError(_) | mysql::Error::DriverError(_) | mysql::Error::CodecError(_)
    )
}

/// A `TIMESTAMP` parameter: UTC, truncated to the second (MySQL would round a fraction up).
fn timestamp(t: SystemTime) -> Value {
    let t = DateTime::<Utc>::from(t.max(UNIX_EPOCH + Duration::from_secs(1)));
    Value::Date(
        u16::try_from(t.year()).unwrap_or(u16::MAX),
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
        0,
    )
}

impl IdempotenceStore for MySqlStore {
    fn mark(&self, key: &IdempotenceKey) -> Result<MarkOutcome, IdempotenceError> {
        let params = self.mark_params(key);
        let changed = self.with_conn("mark", false, |c| {
            c.exec_drop(&self.sql.mark, params.clone())?;
            Ok(c.affected_rows())
        })?;
        Ok(if changed > 0 {
            MarkOutcome::FirstTime
        } else {
            MarkOutcome::Duplicate
        })
    }

    fn forget(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        self.with_conn("forget", true, |c| {
            c.exec_drop(&self.sql.forget, (key.as_str(),))
        })
    }

    fn complete(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        let now = timestamp(self.clock.now());
        self.with_conn("complete", true, |c| {
            c.exec_drop(&self.sql.complete, (key.as_str(), now.clone()))
        })
    }

    fn gc(&self, older_than: SystemTime) -> Result<u64, IdempotenceError> {
        let cutoff = timestamp(older_than);
        self.with_conn("gc", true, |c| {
            c.exec_drop(&self.sql.gc, (cutoff.clone(),))?;
            Ok(c.affected_rows())
        })
    }
}

impl TransactionalIdempotence for MySqlStore {
    type Tx<'t> = Transaction<'t>;

    fn process_in_transaction<T, E>(
        &self,
        key: &IdempotenceKey,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<Processed<T>, TransactionalError<E>> {
        let params = self.mark_params(key);
        let mut conn = self.conn()?;
        let result = (|| {
            let mut tx = conn
                .start_transaction(TxOpts::default())
                .map_err(|e| (e, "begin"))?;
            tx.exec_drop(&self.sql.mark, params)
                .map_err(|e| (e, "mark"))?;
            if tx.affected_rows() == 0 {
                tx.rollback().map_err(|e| (e, "rollback"))?;
                return Ok(Ok(Processed::Duplicate));
            }
            match work(&mut tx) {
                Ok(v) => {
                    tx.commit().map_err(|e| (e, "commit"))?;
                    Ok(Ok(Processed::Done(v)))
                }
                Err(e) => {
                    tx.rollback().map_err(|e| (e, "rollback"))?;
                    Ok(Err(e))
                }
            }
        })();
        match result {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(e)) => Err(TransactionalError::Work(e)),
            Err((e, op)) => {
                if is_broken(&e) {
                    conn.mark_broken();
                }
                Err(TransactionalError::Store(IdempotenceError::MySql {
                    target: self.target.clone(),
                    op,
                    source: e,
                }))
            }
        }
    }
}
