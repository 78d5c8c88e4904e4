//! PostgreSQL idempotence store (feature `postgres`), table from
//! `core/sql/postgresql/deduplicate_tbl.sql`.
//!
//! Invariants:
//! * `mark` is one statement, `INSERT … ON CONFLICT (k) DO NOTHING` (with a TTL, an upsert that
//!   only takes over a row older than the TTL): one row changed ⇒ first time. The unique index
//!   makes it atomic across connections and processes; a concurrent uncommitted insert of the
//!   same key (transactional mode) makes the second insert wait for its outcome;
//! * `update_at` comes from the store's [`Clock`], not the server's, so TTL and gc cut-offs
//!   are in one time base;
//! * connections come from a small [`PoolConfig`]-sized pool; one that failed at the
//!   connection level is dropped, so after a server restart the next call reconnects. A failed
//!   `mark` is never retried internally: the insert may have landed, and a blind retry would
//!   turn it into a false duplicate. `forget`, `complete` and `gc` are idempotent and retried
//!   once on a fresh connection;
//! * every call blocks (the sync `postgres` client runs its own small runtime): call the store
//!   from blocking threads, as the consumer does, never directly from async code. Dropping the
//!   store is safe anywhere.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{Client, NoTls, Statement, Transaction};

use super::dialect::{self, Dialect, StoreSql};
use super::pool::{CheckoutError, Pool, PoolConfig, Pooled, run_with_reconnect};
use super::transactional::{Processed, TransactionalError, TransactionalIdempotence};
use super::{
    Clock, IdempotenceError, IdempotenceKey, IdempotenceStore, MarkOutcome, SystemClock, redact_url,
};

/// Options of a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStoreConfig {
    /// `postgres://user[:password]@host:port/database[?options]` or a libpq key=value string.
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
    /// Pool limits.
    pub pool: PoolConfig,
}

impl PostgresStoreConfig {
    /// Defaults for the database at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            table: dialect::DEFAULT_TABLE.to_owned(),
            ttl: None,
            create_table: true,
            connect_timeout: Duration::from_secs(5),
            pool: PoolConfig::default(),
        }
    }
}

/// A connection with the store's statements prepared on it.
struct PgConn {
    client: OffRuntime<Client>,
    mark: Statement,
    complete: Statement,
    forget: Statement,
}

/// An [`IdempotenceStore`] (and [`TransactionalIdempotence`]) in a PostgreSQL table.
pub struct PostgresStore {
    pool: Pool<PgConn>,
    pg_config: postgres::Config,
    target: String,
    ttl: Option<Duration>,
    clock: Arc<dyn Clock>,
    sql: StoreSql,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects once (creating the table unless told not to), so that a wrong URL or missing
    /// rights fail here rather than on the first message.
    ///
    /// # Errors
    /// [`IdempotenceError::InvalidTableName`], or [`IdempotenceError::Postgres`] naming the step.
    pub fn connect(config: PostgresStoreConfig) -> Result<Self, IdempotenceError> {
        let target = redact_url(&config.url);
        let sql = StoreSql::new(Dialect::Postgres, &config.table, config.ttl.is_some())?;
        let mut pg_config: postgres::Config =
            config.url.parse().map_err(pg_err(&target, "parse url"))?;
        pg_config.connect_timeout(config.connect_timeout);
        let store = Self {
            pool: Pool::new(config.pool),
            pg_config,
            target,
            ttl: config.ttl,
            clock: Arc::new(SystemClock),
            sql,
        };
        if config.create_table {
            let ddl = dialect::ddl(Dialect::Postgres, &config.table)?;
            let mut client = OffRuntime(Some(
                store
                    .pg_config
                    .connect(NoTls)
                    .map_err(pg_err(&store.target, "connect"))?,
            ));
            // Two processes creating the table at once can both pass IF NOT EXISTS, and one then
            // fails on a catalog unique index ("type ... already exists", or a duplicate table or
            // index). A transaction-scoped advisory lock on the table's name serialises the DDL,
            // so the second one sees the table.
            let locked = format!(
                "BEGIN; SELECT pg_advisory_xact_lock({}); {ddl}; COMMIT;",
                ddl_lock_key(&config.table)
            );
            client
                .batch_execute(&locked)
                .map_err(pg_err(&store.target, "create table"))?;
        }
        // Prove the statements prepare (the table exists) and keep the connection pooled.
        drop(store.conn()?);
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
    /// [`IdempotenceError::Postgres`] if the query fails.
    pub fn row_count(&self) -> Result<u64, IdempotenceError> {
        self.with_conn("count", true, |c| {
            let row = c.client.query_one(self.sql.count.as_str(), &[])?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn conn(&self) -> Result<Pooled<'_, PgConn>, IdempotenceError> {
        self.pool
            .get(|| {
                let mut client = self.pg_config.connect(NoTls)?;
                let mark = client.prepare(&self.sql.mark)?;
                let complete = client.prepare(&self.sql.complete)?;
                let forget = client.prepare(&self.sql.forget)?;
                Ok(PgConn {
                    client: OffRuntime(Some(client)),
                    mark,
                    complete,
                    forget,
                })
            })
            .map_err(|e| match e {
                CheckoutError::Connect(source) => IdempotenceError::Postgres {
                    target: self.target.clone(),
                    op: "connect",
                    source,
                },
                CheckoutError::Timeout(waited) => IdempotenceError::PoolTimeout {
                    backend: "postgres",
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
        f: impl Fn(&mut PgConn) -> Result<T, postgres::Error>,
    ) -> Result<T, IdempotenceError> {
        run_with_reconnect(
            || self.conn(),
            retry,
            f,
            |e, conn: &PgConn| is_broken(e, &conn.client),
            pg_err(&self.target, op),
        )
    }
}

/// Owns a value whose drop must not run on an async runtime thread: the sync `postgres`
/// client owns a private tokio runtime, and dropping a runtime inside another runtime's
/// context panics. Stores end up dropped wherever their last `Arc` goes (often a runtime
/// worker when a subscription stops), so such drops move to a short-lived thread.
struct OffRuntime<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> std::ops::Deref for OffRuntime<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("present until drop")
    }
}

impl<T: Send + 'static> std::ops::DerefMut for OffRuntime<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("present until drop")
    }
}

impl<T: Send + 'static> Drop for OffRuntime<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(value));
            }
        }
    }
}

/// Whether the connection is unusable after `e` (as opposed to an SQL error reported by a
/// healthy server).
fn is_broken(e: &postgres::Error, client: &Client) -> bool {
    client.is_closed() || e.is_closed() || e.as_db_error().is_none()
}

fn pg_err(target: &str, op: &'static str) -> impl FnOnce(postgres::Error) -> IdempotenceError {
    let target = target.to_owned();
    move |source| IdempotenceError::Postgres { target, op, source }
}

fn cutoff(now: SystemTime, ttl: Duration) -> SystemTime {
    now.checked_sub(ttl).unwrap_or(UNIX_EPOCH)
}

impl IdempotenceStore for PostgresStore {
    fn mark(&self, key: &IdempotenceKey) -> Result<MarkOutcome, IdempotenceError> {
        let now = self.clock.now();
        let changed = self.with_conn("mark", false, |c| match self.ttl {
            Some(ttl) => c
                .client
                .execute(&c.mark, &[&key.as_str(), &now, &cutoff(now, ttl)]),
            None => c.client.execute(&c.mark, &[&key.as_str(), &now]),
        })?;
        Ok(if changed > 0 {
            MarkOutcome::FirstTime
        } else {
            MarkOutcome::Duplicate
        })
    }

    fn forget(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        self.with_conn("forget", true, |c| {
            c.client.execute(&c.forget, &[&key.as_str()])
        })?;
        Ok(())
    }

    fn complete(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        let now = self.clock.now();
        self.with_conn("complete", true, |c| {
            c.client.execute(&c.complete, &[&key.as_str(), &now])
        })?;
        Ok(())
    }

    fn gc(&self, older_than: SystemTime) -> Result<u64, IdempotenceError> {
        self.with_conn("gc", true, |c| {
            c.client.execute(self.sql.gc.as_str(), &[&older_than])
        })
    }
}

impl TransactionalIdempotence for PostgresStore {
    type Tx<'t> = Transaction<'t>;

    fn process_in_transaction<T, E>(
        &self,
        key: &IdempotenceKey,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<Processed<T>, TransactionalError<E>> {
        let now = self.clock.now();
        let mut conn = self.conn()?;
        let PgConn { client, mark, .. } = &mut *conn;
        let result = (|| {
            let mut tx = client.transaction().map_err(|e| (e, "begin"))?;
            let inserted = match self.ttl {
                Some(ttl) => tx.execute(&*mark, &[&key.as_str(), &now, &cutoff(now, ttl)]),
                None => tx.execute(&*mark, &[&key.as_str(), &now]),
            }
            .map_err(|e| (e, "mark"))?;
            if inserted == 0 {
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
                if is_broken(&e, client) {
                    conn.mark_broken();
                }
                Err(TransactionalError::Store(pg_err(&self.target, op)(e)))
            }
        }
    }
}

/// The advisory-lock key that serialises creating `table` (FNV-1a of a fixed namespace and the
/// name: stable across processes and versions, unlike `std`'s hasher).
fn ddl_lock_key(table: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"qmq.idempotence.ddl:".iter().chain(table.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}
