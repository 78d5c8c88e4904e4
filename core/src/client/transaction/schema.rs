//! The outbox table's DDL, one checked-in file per dialect under `core/sql/`, compiled in with
//! `include_str!` so the shipped files and the code cannot drift.
//!
//! Invariant: each file creates a table named [`DEFAULT_TABLE`] and one index named
//! `qmq_msg_queue_status_update_time`, idempotently (`IF NOT EXISTS`); [`ddl`] renames both
//! for another table name.

use super::dialect::{Dialect, validate_table};
use super::error::OutboxError;

/// QMQ's table name (its Java client defaults to `qmq_produce.qmq_msg_queue`).
pub const DEFAULT_TABLE: &str = "qmq_msg_queue";

/// `core/sql/sqlite/qmq_msg_queue.sql`.
pub const SQLITE_DDL: &str = include_str!("../../../sql/sqlite/qmq_msg_queue.sql");
/// `core/sql/postgresql/qmq_msg_queue.sql`.
pub const POSTGRES_DDL: &str = include_str!("../../../sql/postgresql/qmq_msg_queue.sql");
/// `core/sql/mysql/qmq_msg_queue.sql` (column for column QMQ's `init_client.sql`).
pub const MYSQL_DDL: &str = include_str!("../../../sql/mysql/qmq_msg_queue.sql");

const INDEX: &str = "qmq_msg_queue_status_update_time";

/// The shipped DDL of `dialect` for `table` (a `schema.table` name keeps the index in the
/// table's schema under the table's own name).
///
/// # Errors
/// [`OutboxError::InvalidTableName`].
pub fn ddl(dialect: Dialect, table: &str) -> Result<String, OutboxError> {
    validate_table(table)?;
    let text = match dialect {
        Dialect::Sqlite => SQLITE_DDL,
        Dialect::Postgres => POSTGRES_DDL,
        Dialect::MySql => MYSQL_DDL,
    };
    if table == DEFAULT_TABLE {
        return Ok(text.to_owned());
    }
    let bare = table.rsplit('.').next().unwrap_or(table);
    Ok(text
        .replace(INDEX, "\u{0}")
        .replace(DEFAULT_TABLE, table)
        .replace('\u{0}', &format!("{bare}_status_update_time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_ddl_names_the_default_table_and_index() {
        for text in [SQLITE_DDL, POSTGRES_DDL, MYSQL_DDL] {
            assert!(text.contains("CREATE TABLE IF NOT EXISTS qmq_msg_queue ("));
            assert!(text.contains(INDEX));
        }
    }

    #[test]
    fn ddl_renames_table_and_index() {
        let text = ddl(Dialect::Postgres, "app.outbox").unwrap();
        assert!(text.contains("CREATE TABLE IF NOT EXISTS app.outbox ("));
        assert!(text.contains("INDEX IF NOT EXISTS outbox_status_update_time ON app.outbox"));
        assert!(!text.contains("qmq_msg_queue"));
        assert!(ddl(Dialect::Sqlite, "x;y").is_err());
    }

    #[test]
    fn sqlite_ddl_runs() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&ddl(Dialect::Sqlite, "t").unwrap())
            .unwrap();
        conn.execute_batch(&ddl(Dialect::Sqlite, "t").unwrap())
            .unwrap();
    }
}
