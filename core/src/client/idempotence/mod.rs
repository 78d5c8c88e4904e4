//! Idempotent consumption (spec §12): remember which messages a consumer group has processed,
//! so a redelivered message is acked without running the handler again.
//!
//! Protocol, per message, with `key = <subject>%<group>%<extract(msg)>` ([`IdempotenceKey`]):
//! 1. [`IdempotenceStore::mark`] before processing: [`MarkOutcome::FirstTime`] ⇒ process,
//!    [`MarkOutcome::Duplicate`] ⇒ skip and ack;
//! 2. handler failed ⇒ [`IdempotenceStore::forget`], so the retry can run;
//! 3. handler succeeded ⇒ [`IdempotenceStore::complete`] (the key is kept);
//! 4. now and then [`IdempotenceStore::gc`] drops keys last written before a cut-off.
//!
//! Limits of this (non-transactional) protocol, as in QMQ: the mark and the handler's effect
//! are separate writes. A crash between a successful handler and `complete` is harmless (the
//! key is already marked), but a `forget` that fails after a failed handler (database down)
//! leaves the key marked, and the retry is then acked as a duplicate without being processed;
//! an ambiguous `mark` failure (the insert landed, the reply was lost) does the same. Where
//! that matters, use the transactional mode below.
//!
//! Invariants: `mark` is atomic (of two concurrent marks of one key exactly one is
//! `FirstTime`); every method is blocking and may do I/O, so async code calls them through
//! `spawn_blocking`; stores are `Send + Sync` and the trait is object-safe
//! (`Arc<dyn IdempotenceStore>`).
//!
//! Backends: [`MemoryStore`], [`SqliteStore`], and behind cargo features `PostgresStore`
//! (`postgres`), `MySqlStore` (`mysql`, QMQ's `deduplicate_tbl` with `INSERT IGNORE`) and
//! `RedisStore` (`redis`, `SET NX PX`; gc is TTL-driven). The SQL DDL ships in `core/sql/`.
//! Every backend passes the shared [`contract`].
//!
//! Transactional mode ([`transactional`]): the SQL stores also implement
//! [`TransactionalIdempotence`], which inserts the key in the same database transaction as the
//! business work, so the work's effect happens exactly once; [`transactional_handler`] makes a
//! consumer handler of it.
//!
//! Host hooks: bindings that keep the dedup row in their own connection's transaction (Python
//! `sqlite3`/`psycopg`, Java JDBC) build the key with [`IdempotenceKey::new`] and take the SQL
//! from [`dialect`]: [`dialect::ddl`], [`dialect::dedup_insert_sql`] (one parameter, the key;
//! 1 row ⇒ process, 0 ⇒ duplicate), [`dialect::forget_sql`] and [`dialect::gc_sql`].

mod clock;
pub mod contract;
pub mod dialect;
mod key;
mod memory;
#[cfg(feature = "mysql")]
mod mysql;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod sqlite;
pub mod transactional;

use std::time::{Duration, SystemTime};

pub use clock::{Clock, ManualClock, SystemClock};
pub use dialect::DEFAULT_TABLE;
pub use key::{IdempotenceKey, MAX_KEY_LEN};
pub use memory::{MemoryStore, MemoryStoreConfig};
#[cfg(feature = "mysql")]
pub use mysql::{MySqlStore, MySqlStoreConfig};
pub use pool::PoolConfig;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresStore, PostgresStoreConfig};
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisStoreConfig};
pub use sqlite::{SqliteStore, SqliteStoreConfig};
pub use transactional::{
    Processed, TransactionalError, TransactionalIdempotence, transactional_handler,
};

/// Result of [`IdempotenceStore::mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkOutcome {
    /// The key was not known (or had expired): process the message.
    FirstTime,
    /// The key is known: the message was processed, or is being processed, already.
    Duplicate,
}

/// A record of processed messages; see the module docs for the protocol.
pub trait IdempotenceStore: Send + Sync {
    /// Atomically records `key` unless it is already recorded.
    ///
    /// # Errors
    /// [`IdempotenceError`] if the backend fails; the caller decides (QMQ's `ignoreOnFailed`)
    /// whether to process anyway.
    fn mark(&self, key: &IdempotenceKey) -> Result<MarkOutcome, IdempotenceError>;

    /// Removes `key` after a failed attempt so that the retry is processed. Removing an
    /// unknown key is not an error.
    ///
    /// # Errors
    /// [`IdempotenceError`] if the backend fails.
    fn forget(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError>;

    /// Confirms that `key` was processed successfully; the key is kept (its timestamp
    /// refreshed, and re-recorded if it had been evicted meanwhile).
    ///
    /// # Errors
    /// [`IdempotenceError`] if the backend fails.
    fn complete(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError>;

    /// Deletes keys last written before `older_than`; returns how many were deleted.
    ///
    /// # Errors
    /// [`IdempotenceError`] if the backend fails.
    fn gc(&self, older_than: SystemTime) -> Result<u64, IdempotenceError>;
}

/// Errors of the idempotence stores.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotenceError {
    /// A SQLite call failed.
    #[error("sqlite idempotence store {location}: {op} failed")]
    Sqlite {
        /// The database file, or `:memory:`.
        location: String,
        /// What was being done (`open`, `create table`, `mark`, ...).
        op: &'static str,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// The table name is not a plain SQL identifier.
    #[error("invalid idempotence table name {name:?}: use [A-Za-z_][A-Za-z0-9_]*, at most 64")]
    InvalidTableName {
        /// The rejected name.
        name: String,
    },

    /// A store was configured with a capacity of zero.
    #[error("idempotence store capacity must be at least 1")]
    ZeroCapacity,

    /// A TTL too short for the backend (Redis needs at least a millisecond).
    #[error("idempotence TTL {ttl:?} is too short")]
    InvalidTtl {
        /// The rejected TTL.
        ttl: Duration,
    },

    /// A PostgreSQL call failed.
    #[cfg(feature = "postgres")]
    #[error("postgres idempotence store {target}: {op} failed")]
    Postgres {
        /// The server, password redacted.
        target: String,
        /// What was being done (`connect`, `mark`, `commit`, ...).
        op: &'static str,
        /// The driver error.
        #[source]
        source: ::postgres::Error,
    },

    /// A MySQL/MariaDB call failed.
    #[cfg(feature = "mysql")]
    #[error("mysql idempotence store {target}: {op} failed")]
    MySql {
        /// The server, password redacted.
        target: String,
        /// What was being done (`connect`, `mark`, `commit`, ...).
        op: &'static str,
        /// The driver error.
        #[source]
        source: ::mysql::Error,
    },

    /// A Redis call failed.
    #[cfg(feature = "redis")]
    #[error("redis idempotence store {target}: {op} failed")]
    Redis {
        /// The server, password redacted.
        target: String,
        /// What was being done (`connect`, `mark`, ...).
        op: &'static str,
        /// The driver error.
        #[source]
        source: ::redis::RedisError,
    },

    /// Every pooled connection stayed busy for the checkout timeout.
    #[error("{backend} idempotence store {target}: no free connection within {waited:?}")]
    PoolTimeout {
        /// `postgres`, `mysql` or `redis`.
        backend: &'static str,
        /// The server, password redacted.
        target: String,
        /// How long the caller waited.
        waited: Duration,
    },
}

impl IdempotenceError {
    /// Whether the same call may succeed later (a busy or locked database) as opposed to a
    /// configuration mistake or a broken database.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            // A connection-level failure (server down, restarted, network) goes away with a
            // reconnect; lock conflicts go away with a retry.
            #[cfg(feature = "postgres")]
            Self::Postgres { source, .. } => source.as_db_error().is_none_or(|db| {
                matches!(
                    db.code().code(),
                    "40001" | "40P01" | "55P03" | "57P01" | "57P03"
                )
            }),
            #[cfg(feature = "mysql")]
            Self::MySql { source, .. } => match source {
                ::mysql::Error::MySqlError(e) => matches!(e.code, 1205 | 1213),
                ::mysql::Error::IoError(_)
                | ::mysql::Error::DriverError(_)
                | ::mysql::Error::CodecError(_) => true,
                _ => false,
            },
            #[cfg(feature = "redis")]
            Self::Redis { source, .. } => {
                source.is_io_error() || source.is_connection_dropped() || source.is_timeout()
            }
            Self::PoolTimeout { .. } => true,
            Self::InvalidTableName { .. } | Self::ZeroCapacity | Self::InvalidTtl { .. } => false,
        }
    }
}

/// `url` with any password replaced by `***`, for errors and logs.
#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "redis")),
    allow(dead_code)
)]
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // libpq key=value form.
        return url
            .split(' ')
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("mysql://root:s3cret@db:3306/qmq"),
            "mysql://root:***@db:3306/qmq"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5/qmq"),
            "postgres://postgres@127.0.0.1:5/qmq"
        );
        assert_eq!(redact_url("redis://:pw@h:1/"), "redis://:***@h:1/");
        assert_eq!(redact_url("host=x password=y"), "host=x password=***");
    }

    #[test]
    fn memory_and_sqlite_pass_the_contract() {
        contract::run_all("memory", contract::memory_factory);
        contract::run_all("sqlite", |ttl, clock| {
            let config = SqliteStoreConfig {
                ttl,
                ..SqliteStoreConfig::default()
            };
            Box::new(
                SqliteStore::open_in_memory(config)
                    .unwrap()
                    .with_clock(clock),
            )
        });
    }
}
