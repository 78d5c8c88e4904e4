//! `OutboxError`: everything the outbox (staging, the core-owned connection, the send after
//! commit) can report. Driver errors are kept as `#[source]`, with the database (password
//! removed) and the step that failed.

use super::content::ContentError;
use super::dialect::Dialect;
use crate::client::ClientError;

/// What became of a staged row after its send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFate {
    /// The broker refused it with BLOCK: `status = -100`, `error + 1`; the watchdog leaves it.
    Blocked,
    /// `error + 1`, status still 0: the watchdog resends it once it is old enough.
    LeftForWatchdog,
    /// The bookkeeping update failed too; the row is unchanged (still pending).
    Unchanged,
}

/// Errors of the transactional outbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// A SQLite call failed.
    #[error("sqlite outbox {location}: {op} failed")]
    Sqlite {
        /// The database file.
        location: String,
        /// The step (`open`, `insert`, `delete`, ...).
        op: &'static str,
        /// The driver's error.
        #[source]
        source: rusqlite::Error,
    },

    /// A PostgreSQL call failed.
    #[cfg(feature = "postgres")]
    #[error("postgres outbox {location}: {op} failed")]
    Postgres {
        /// The URL, without its password.
        location: String,
        /// The step.
        op: &'static str,
        /// The driver's error.
        #[source]
        source: postgres::Error,
    },

    /// A MySQL or MariaDB call failed.
    #[cfg(feature = "mysql")]
    #[error("mysql outbox {location}: {op} failed")]
    MySql {
        /// The URL, without its password.
        location: String,
        /// The step.
        op: &'static str,
        /// The driver's error.
        #[source]
        source: mysql::Error,
    },

    /// The table name is not a plain SQL identifier.
    #[error(
        "invalid outbox table name {name:?}: use [A-Za-z_][A-Za-z0-9_]* or schema.table, at most 64"
    )]
    InvalidTableName {
        /// The rejected name.
        name: String,
    },

    /// The database location cannot be used.
    #[error("unsupported outbox database {location:?}: {reason}")]
    UnsupportedLocation {
        /// The location as given (without password).
        location: String,
        /// Why.
        reason: &'static str,
    },

    /// The dialect's driver is not compiled in (enable qmq-core's `postgres` / `mysql` feature).
    #[error("outbox dialect {dialect} needs qmq-core's `{dialect}` feature")]
    DriverMissing {
        /// The dialect asked for.
        dialect: Dialect,
    },

    /// The caller's transaction is of another dialect than the outbox's database.
    #[error("transaction is {given}, but the outbox database is {expected}")]
    DialectMismatch {
        /// The outbox database's dialect.
        expected: Dialect,
        /// The transaction's dialect.
        given: Dialect,
    },

    /// The staged row is not visible to the outbox's own connection: the transaction was rolled
    /// back or not committed yet. Nothing was sent.
    #[error(
        "outbox row {row_id} is not committed (rolled back, or not committed yet); nothing sent"
    )]
    NotCommitted {
        /// The row id.
        row_id: i64,
    },

    /// The message could not be sent; `row` says what became of its row.
    #[error("outbox row {row_id}: message {message_id} not sent ({row:?})")]
    Send {
        /// The row id.
        row_id: i64,
        /// The message id.
        message_id: String,
        /// What became of the row.
        row: RowFate,
        /// The producer's error (boxed: it is large and this variant is rare).
        #[source]
        source: Box<ClientError>,
    },

    /// A stored `content` is not a sendable message.
    #[error("outbox row {row_id} has bad content")]
    Content {
        /// The row id.
        row_id: i64,
        /// Why.
        #[source]
        source: ContentError,
    },

    /// The send's follow-up work was dropped (the client closed or its runtime stopped); the
    /// row is still pending and the watchdog will send it.
    #[error(
        "outbox row {row_id}: the client closed before the send finished; row left for the watchdog"
    )]
    Abandoned {
        /// The row id.
        row_id: i64,
    },

    /// A blocking wait was called inside an async runtime.
    #[error("{op} must not be called from inside an async runtime")]
    BlockingInAsyncContext {
        /// The operation refused.
        op: &'static str,
    },
}

impl OutboxError {
    /// Whether the database connection itself failed (closed by the server, reset, I/O), as
    /// opposed to the server rejecting a statement.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres { source, .. } => source.is_closed() || source.as_db_error().is_none(),
            #[cfg(feature = "mysql")]
            Self::MySql { source, .. } => {
                matches!(
                    source,
                    mysql::Error::IoError(_)
                        | mysql::Error::CodecError(_)
                        | mysql::Error::DriverError(_)
                )
            }
            _ => false,
        }
    }

    /// Whether the same call may succeed later: the database was unreachable or busy, or the
    /// send failed for a reason that can pass.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            #[cfg(feature = "postgres")]
            Self::Postgres { source, .. } => source.as_db_error().is_none(),
            #[cfg(feature = "mysql")]
            Self::MySql { source, .. } => !matches!(source, mysql::Error::MySqlError(_)),
            Self::Send { source, .. } => source.is_retriable(),
            Self::Abandoned { .. } => true,
            Self::InvalidTableName { .. }
            | Self::UnsupportedLocation { .. }
            | Self::DriverMissing { .. }
            | Self::DialectMismatch { .. }
            | Self::NotCommitted { .. }
            | Self::Content { .. }
            | Self::BlockingInAsyncContext { .. } => false,
        }
    }
}
