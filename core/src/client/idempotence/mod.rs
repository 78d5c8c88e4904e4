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
//! Invariants: `mark` is atomic (of two concurrent marks of one key exactly one is
//! `FirstTime`); every method is blocking and may do I/O, so async code calls them through
//! `spawn_blocking`; stores are `Send + Sync` and the trait is object-safe
//! (`Arc<dyn IdempotenceStore>`).

mod clock;
mod key;
mod memory;
mod sqlite;

use std::time::SystemTime;

pub use clock::{Clock, ManualClock, SystemClock};
pub use key::{IdempotenceKey, MAX_KEY_LEN};
pub use memory::{MemoryStore, MemoryStoreConfig};
pub use sqlite::{DEFAULT_TABLE, SqliteStore, SqliteStoreConfig};

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
            Self::InvalidTableName { .. } | Self::ZeroCapacity => false,
        }
    }
}

#[cfg(test)]
mod contract_tests;
