//! [`StageTransaction`]: the caller's open database transaction, through which a message's row
//! is inserted so that it commits or rolls back together with the caller's own writes.

use super::dialect::Dialect;
use super::error::OutboxError;

/// A caller-owned, open transaction the outbox can insert into. Implemented for
/// `rusqlite::Transaction`, `postgres::Transaction` (feature `postgres`) and
/// `mysql::Transaction` (feature `mysql`); other drivers can implement it too.
pub trait StageTransaction {
    /// The transaction's SQL dialect.
    const DIALECT: Dialect;

    /// Runs `sql` (from [`insert_sql`](super::insert_sql) in the dialect's native parameter
    /// style) with `content` as its one parameter and returns the new row's id.
    ///
    /// # Errors
    /// The driver's error.
    fn insert_outbox_row(&mut self, sql: &str, content: &str) -> Result<i64, OutboxError>;

    /// Commits the transaction.
    ///
    /// # Errors
    /// The driver's error; the transaction is then rolled back and nothing is sent.
    fn commit_outbox(self) -> Result<(), OutboxError>;
}
