//! PostgreSQL: staging through the caller's `postgres::Transaction`, and the core's own
//! connection.
//!
//! Invariant: a claim is one transaction that selects the due rows `FOR UPDATE` and touches
//! them before committing, so two claimers never get the same row even without the
//! watchdog's advisory lock.

use std::time::Duration;

use postgres::{Client, NoTls};

use super::database::OutboxRow;
use super::dialect::{Dialect, Statements};
use super::error::OutboxError;
use super::stage::StageTransaction;

/// Bound on establishing the core's connection (a database that is down fails fast anyway).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn err(location: &str, op: &'static str) -> impl FnOnce(postgres::Error) -> OutboxError {
    let location = location.to_owned();
    move |source| OutboxError::Postgres {
        location,
        op,
        source,
    }
}

/// Opens a connection to `url` with a connect timeout.
///
/// # Errors
/// [`OutboxError::Postgres`].
pub fn connect(url: &str, location: &str) -> Result<Client, OutboxError> {
    let mut config: postgres::Config = url.parse().map_err(err(location, "parse url"))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.connect(NoTls).map_err(err(location, "connect"))
}

pub(crate) fn create(conn: &mut Client, ddl: &str, location: &str) -> Result<(), OutboxError> {
    conn.batch_execute(ddl)
        .map_err(err(location, "create table"))
}

pub(crate) fn exec_id(
    conn: &mut Client,
    sql: &str,
    id: i64,
    op: &'static str,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.execute(sql, &[&id]).map_err(err(location, op))
}

pub(crate) fn mark(
    conn: &mut Client,
    sql: &str,
    status: i16,
    id: i64,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.execute(sql, &[&status, &id])
        .map_err(err(location, "mark"))
}

pub(crate) fn insert(
    conn: &mut Client,
    sql: &str,
    content: &str,
    location: &str,
) -> Result<i64, OutboxError> {
    let row = conn
        .query_one(sql, &[&content])
        .map_err(err(location, "insert"))?;
    row.try_get(0).map_err(err(location, "insert"))
}

pub(crate) fn get(
    conn: &mut Client,
    sql: &str,
    id: i64,
    location: &str,
) -> Result<Option<OutboxRow>, OutboxError> {
    let row = conn.query_opt(sql, &[&id]).map_err(err(location, "get"))?;
    row.map(|r| {
        Ok(OutboxRow {
            id: r.try_get(0)?,
            content: r.try_get(1)?,
            status: r.try_get(2)?,
            error: i64::from(r.try_get::<_, i32>(3)?),
        })
    })
    .transpose()
    .map_err(err(location, "get"))
}

pub(crate) fn all(
    conn: &mut Client,
    sql: &str,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    let rows = conn.query(sql, &[]).map_err(err(location, "list"))?;
    rows.iter()
        .map(|r| {
            Ok(OutboxRow {
                id: r.try_get(0)?,
                content: r.try_get(1)?,
                status: r.try_get(2)?,
                error: i64::from(r.try_get::<_, i32>(3)?),
            })
        })
        .collect::<Result<_, postgres::Error>>()
        .map_err(err(location, "list"))
}

pub(crate) fn claim(
    conn: &mut Client,
    stmts: &Statements,
    age: Duration,
    limit: u32,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    let mut tx = conn.transaction().map_err(err(location, "begin claim"))?;
    let rows = tx
        .query(&stmts.due(age, limit), &[])
        .map_err(err(location, "select due"))?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(OutboxRow {
                id: r.try_get(0)?,
                content: r.try_get(1)?,
                status: 0,
                error: i64::from(r.try_get::<_, i32>(2)?),
            })
        })
        .collect::<Result<Vec<_>, postgres::Error>>()
        .map_err(err(location, "select due"))?;
    for row in &rows {
        tx.execute(&stmts.touch, &[&row.id])
            .map_err(err(location, "touch"))?;
    }
    tx.commit().map_err(err(location, "commit claim"))?;
    Ok(rows)
}

impl StageTransaction for postgres::Transaction<'_> {
    const DIALECT: Dialect = Dialect::Postgres;

    fn insert_outbox_row(&mut self, sql: &str, content: &str) -> Result<i64, OutboxError> {
        let row = self
            .query_one(sql, &[&content])
            .map_err(err("caller's transaction", "insert"))?;
        row.try_get(0)
            .map_err(err("caller's transaction", "insert"))
    }

    fn commit_outbox(self) -> Result<(), OutboxError> {
        self.commit().map_err(err("caller's transaction", "commit"))
    }
}
