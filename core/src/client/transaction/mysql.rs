//! MySQL / MariaDB: staging through the caller's `mysql::Transaction`, and the core's own
//! connection. The table is QMQ's own (`init_client.sql`), so rows written by QMQ's Java
//! client and by qmq-core can share it.
//!
//! Invariant: a claim is one InnoDB transaction that selects the due rows `FOR UPDATE` and
//! touches them before committing.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, TxOpts};

use super::database::OutboxRow;
use super::dialect::{Dialect, Statements};
use super::error::OutboxError;
use super::stage::StageTransaction;

/// Bound on establishing the core's connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

fn err(location: &str, op: &'static str) -> impl FnOnce(mysql::Error) -> OutboxError {
    let location = location.to_owned();
    move |source| OutboxError::MySql {
        location,
        op,
        source,
    }
}

/// Opens a connection to `url` with a connect timeout.
///
/// # Errors
/// [`OutboxError::MySql`].
pub fn connect(url: &str, location: &str) -> Result<Conn, OutboxError> {
    let opts = Opts::from_url(url).map_err(|e| OutboxError::MySql {
        location: location.to_owned(),
        op: "parse url",
        source: mysql::Error::UrlError(e),
    })?;
    let opts = OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(CONNECT_TIMEOUT));
    Conn::new(opts).map_err(err(location, "connect"))
}

pub(crate) fn create(conn: &mut Conn, ddl: &str, location: &str) -> Result<(), OutboxError> {
    conn.query_drop(ddl).map_err(err(location, "create table"))
}

pub(crate) fn exec_id(
    conn: &mut Conn,
    sql: &str,
    id: i64,
    op: &'static str,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.exec_drop(sql, (id,)).map_err(err(location, op))?;
    Ok(conn.affected_rows())
}

pub(crate) fn mark(
    conn: &mut Conn,
    sql: &str,
    status: i16,
    id: i64,
    location: &str,
) -> Result<u64, OutboxError> {
    conn.exec_drop(sql, (status, id))
        .map_err(err(location, "mark"))?;
    Ok(conn.affected_rows())
}

pub(crate) fn insert(
    conn: &mut Conn,
    sql: &str,
    content: &str,
    location: &str,
) -> Result<i64, OutboxError> {
    conn.exec_drop(sql, (content,))
        .map_err(err(location, "insert"))?;
    Ok(conn.last_insert_id() as i64)
}

pub(crate) fn get(
    conn: &mut Conn,
    sql: &str,
    id: i64,
    location: &str,
) -> Result<Option<OutboxRow>, OutboxError> {
    let row = conn
        .exec_first::<(i64, String, i16, i64), _, _>(sql, (id,))
        .map_err(err(location, "get"))?;
    Ok(row.map(|(id, content, status, error)| OutboxRow {
        id,
        content,
        status,
        error,
    }))
}

pub(crate) fn all(
    conn: &mut Conn,
    sql: &str,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    conn.query_map(
        sql,
        |(id, content, status, error): (i64, String, i16, i64)| OutboxRow {
            id,
            content,
            status,
            error,
        },
    )
    .map_err(err(location, "list"))
}

pub(crate) fn claim(
    conn: &mut Conn,
    stmts: &Statements,
    age: Duration,
    limit: u32,
    location: &str,
) -> Result<Vec<OutboxRow>, OutboxError> {
    let mut tx = conn
        .start_transaction(TxOpts::default())
        .map_err(err(location, "begin claim"))?;
    let rows = tx
        .query_map(
            stmts.due(age, limit),
            |(id, content, error): (i64, String, i64)| OutboxRow {
                id,
                content,
                status: 0,
                error,
            },
        )
        .map_err(err(location, "select due"))?;
    for row in &rows {
        tx.exec_drop(&stmts.touch, (row.id,))
            .map_err(err(location, "touch"))?;
    }
    tx.commit().map_err(err(location, "commit claim"))?;
    Ok(rows)
}

impl StageTransaction for mysql::Transaction<'_> {
    const DIALECT: Dialect = Dialect::MySql;

    fn insert_outbox_row(&mut self, sql: &str, content: &str) -> Result<i64, OutboxError> {
        self.exec_drop(sql, (content,))
            .map_err(err("caller's transaction", "insert"))?;
        self.last_insert_id()
            .map(|id| id as i64)
            .ok_or_else(|| OutboxError::UnsupportedLocation {
                location: "caller's transaction".to_owned(),
                reason: "the driver reported no insert id",
            })
    }

    fn commit_outbox(self) -> Result<(), OutboxError> {
        self.commit().map_err(err("caller's transaction", "commit"))
    }
}
