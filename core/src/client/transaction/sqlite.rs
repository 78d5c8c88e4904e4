//! SQLite: staging through the caller's `rusqlite::Transaction`, and the core's own
//! connection to the same file.
//!
//! Invariants: the core's connection runs in WAL mode with a busy timeout, so it waits for the
//! caller's write transaction instead of failing; a claim is one `BEGIN IMMEDIATE` write
//! transaction (select the due rows, touch them, commit), so of several watchdogs on one file
//! exactly one claims a given row — SQLite's own database lock is the election.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::database::OutboxRow;
use super::dialect::{Dialect, Statements};
use super::error::OutboxError;
use super::stage::StageTransaction;

/// How long the core's connection waits for another writer.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

fn err(location: &str, op: &'static str) -> impl FnOnce(rusqlite::Error) -> OutboxError {
    let location = location.to_owned();
    move |source| OutboxError::Sqlite {
        location,
        op,
        source,
    }
}

pub(crate) fn connect(path: &Path, location: &str) -> Result<Connection, OutboxError> {
    let conn = Connection::open(path).map_err(err(location, "open"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(err(location, "set busy timeout"))?;
    // WAL: the caller's readers and writer and ours do not block each other's reads.
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |_| Ok(()))
        .map_err(err(location, "enable WAL"))?;
    Ok(conn)
}

pub(crate) fn create(conn: &Connection, ddl: &str, location: &str) -> Result<(), OutboxError> {
    conn.execute_batch(ddl)
        .map_err(err(location, "create table"))
}

pub(crate) fn exec_id(
    conn: &Connection,
    sql: &str,
    id: i64,
    op: &'static str,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.execute(sql, params![id])
        .map(|n| n as u64)
        .map_err(err(location, op))
}

pub(crate) fn mark(
    conn: &Connection,
    sql: &str,
    status: i16,
    id: i64,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.execute(sql, params![status, id])
        .map(|n| n as u64)
        .map_err(err(location, "mark"))
}

pub(crate) fn insert(
    conn: &Connection,
    sql: &str,
    content: &str,
    location: &str,
) -> Result<i64, OutboxError> {
    conn.execute(sql, params![content])
        .map_err(err(location, "insert"))?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn get(
    conn: &Connection,
    sql: &str,
    id: i64,
    location: &str,
) -> Result<Option<OutboxRow>, OutboxError> {
    conn.query_row(sql, params![id], |r| {
        Ok(OutboxRow {
            id: r.get(0)?,
            content: r.get(1)?,
            status: r.get(2)?,
            error: r.get(3)?,
        })
    })
    .optional()
    .map_err(err(location, "get"))
}

pub(crate) fn all(
    conn: &Connection,
    sql: &str,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    let mut stmt = conn.prepare(sql).map_err(err(location, "list"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                content: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
            })
        })
        .map_err(err(location, "list"))?;
    rows.collect::<Result<_, _>>()
        .map_err(err(location, "list"))
}

pub(crate) fn claim(
    conn: &mut Connection,
    stmts: &Statements,
    age: Duration,
    limit: u32,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err(location, "begin claim"))?;
    let rows = {
        let mut stmt = tx
            .prepare(&stmts.due(age, limit))
            .map_err(err(location, "select due"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(OutboxRow {
                    id: r.get(0)?,
                    content: r.get(1)?,
                    status: 0,
                    error: r.get(2)?,
                })
            })
            .map_err(err(location, "select due"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(err(location, "select due"))?
    };
    for row in &rows {
        tx.execute(&stmts.touch, params![row.id])
            .map_err(err(location, "touch"))?;
    }
    tx.commit().map_err(err(location, "commit claim"))?;
    Ok(rows)
}

impl StageTransaction for rusqlite::Transaction<'_> {
    const DIALECT: Dialect = Dialect::Sqlite;

    fn insert_outbox_row(&mut self, sql: &str, content: &str) -> Result<i64, OutboxError> {
        insert(self, sql, content, "caller's transaction")
    }

    fn commit_outbox(self) -> Result<(), OutboxError> {
        self.commit().map_err(err("caller's transaction", "commit"))
    }
}
