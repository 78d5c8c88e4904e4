//! Host hooks for work done in a database transaction that Python owns (a `sqlite3` or
//! psycopg connection): transactional messages (the `qmq_msg_queue` outbox) and transactional
//! idempotence (the dedup key inserted with the business work).
//!
//! The Python package (`qmq/outbox.py`, `qmq/transactional.py`) runs the SQL on the user's
//! connection inside the user's transaction. What it runs — the INSERT, the row's content, the
//! dedup key and the DDL — and everything after the commit (checking that the row is
//! committed, sending, deleting or counting the row through the core's own connection) come
//! from `qmq-core`. This file is the only one that names `qmq_core::client::transaction` and
//! `qmq_core::client::idempotence::dialect`, so that a change there is adapted here alone.
//!
//! SQLite is settled by the host, not by the core. The core links its own (bundled) copy of
//! SQLite, and Python's `sqlite3` another. POSIX locks belong to the process, so the two
//! copies' locks never exclude each other, and neither knows the other's open connections: a
//! connection of one copy can checkpoint and delete the WAL under the other's open connection
//! (<https://www.sqlite.org/howtocorrupt.html>, §2.2.1) — observed here as committed rows the
//! core's connection never saw — and two writers can run at once. For a SQLite outbox the Python
//! package therefore checks, deletes and counts rows with `sqlite3` itself ([`outbox_sql`]
//! mirrors the core's statements) and uses the core only to send ([`OutboxRef::send_prepared`]);
//! PostgreSQL and MySQL go through [`Outbox::send_outboxed`].
//!
//! Invariants:
//! * a message is sent with the id its row holds: [`PreparedRef`] keeps the one
//!   `ProducerMessage` whose content went into the row;
//! * waiting for sends releases the GIL and checks signals between 100 ms slices; an
//!   interrupted wait cancels nothing (the core still settles the row, or leaves it for the
//!   watchdog);
//! * every outbox failure reaches Python as `qmq.errors.OutboxError` (with `row_id`,
//!   `row_fate` and `message_id`), built in one function, [`outbox_error`].

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use qmq_core::client::idempotence::{IdempotenceKey, dialect as dedup};
use qmq_core::client::sql::split_statements;
use qmq_core::client::transaction::{
    DatabaseLocation, Dialect, Outbox, OutboxDatabase, OutboxError, OutboxResult, OutboxStatements,
    ParamStyle, RowFate, ddl, encode_content, insert_sql,
};
use qmq_core::client::{ClientError, ProducerMessage, SendResult};
use qmq_core::protocol::MessageProducerCode;

use crate::client::Owner;
use crate::errors;
use crate::message;
use crate::producer::{ProducerRef, wait_for};

/// `"sqlite"`, `"postgres"` or `"mysql"` as the outbox's dialect.
fn outbox_dialect(name: &str) -> PyResult<Dialect> {
    match name {
        "sqlite" => Ok(Dialect::Sqlite),
        "postgres" => Ok(Dialect::Postgres),
        "mysql" => Ok(Dialect::MySql),
        _ => Err(PyValueError::new_err(format!(
            "dialect must be 'sqlite', 'postgres' or 'mysql', not {name:?}"
        ))),
    }
}

/// DB-API `paramstyle` names: `"qmark"` (`?`, sqlite3) and `"format"` (`%s`, psycopg), plus
/// `"dollar"` (`$1`, libpq).
fn param_style(name: &str) -> PyResult<ParamStyle> {
    match name {
        "qmark" => Ok(ParamStyle::QuestionMark),
        "format" => Ok(ParamStyle::Format),
        "dollar" => Ok(ParamStyle::Numbered),
        _ => Err(PyValueError::new_err(format!(
            "paramstyle must be 'qmark', 'format' or 'dollar', not {name:?}"
        ))),
    }
}

/// The variant name of an outbox error (`"NotCommitted"`, `"Send"`, `"Postgres"`, ...).
fn outbox_kind(e: &OutboxError) -> String {
    format!("{e:?}")
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("Outbox")
        .to_owned()
}

fn fate_name(fate: RowFate) -> &'static str {
    match fate {
        RowFate::Blocked => "blocked",
        RowFate::LeftForWatchdog => "left_for_watchdog",
        RowFate::Unchanged => "unchanged",
    }
}

/// The one mapping of an [`OutboxError`] to Python: a bad table name or location is
/// `qmq.InvalidArgumentError`; everything else is `qmq.errors.OutboxError`, carrying `row_id`,
/// `row_fate` and `message_id` where known.
pub(crate) fn outbox_error(py: Python<'_>, e: &OutboxError) -> PyErr {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let kind = outbox_kind(e);
    if matches!(
        e,
        OutboxError::InvalidTableName { .. } | OutboxError::UnsupportedLocation { .. }
    ) {
        return errors::qmq_error(py, "InvalidArgumentError", &text, &kind, false);
    }
    let err = errors::qmq_error(py, "OutboxError", &text, &kind, e.is_retriable());
    let (row_id, fate, message_id) = match e {
        OutboxError::Send {
            row_id,
            message_id,
            row,
            ..
        } => (
            Some(*row_id),
            Some(fate_name(*row)),
            Some(message_id.as_str()),
        ),
        OutboxError::NotCommitted { row_id } => (Some(*row_id), Some("not_committed"), None),
        OutboxError::Content { row_id, .. } | OutboxError::Abandoned { row_id } => {
            (Some(*row_id), Some("unchanged"), None)
        }
        _ => (None, None, None),
    };
    let value = err.value(py);
    // Plain attribute sets on a fresh exception object cannot fail in practice; if one did,
    // the exception is still raised without it.
    let _ = value.setattr("row_id", row_id);
    let _ = value.setattr("row_fate", fate);
    let _ = value.setattr("message_id", message_id);
    err
}

/// The INSERT that stages an outbox row: one parameter, the content. PostgreSQL's returns the
/// id (`RETURNING id`); elsewhere read the cursor's `lastrowid`.
#[pyfunction]
pub(crate) fn outbox_insert_sql(
    py: Python<'_>,
    dialect: &str,
    table: &str,
    paramstyle: &str,
) -> PyResult<String> {
    insert_sql(outbox_dialect(dialect)?, table, param_style(paramstyle)?)
        .map_err(|e| outbox_error(py, &e))
}

/// Every statement a host needs to keep an outbox table itself, in `paramstyle`: `ddl` (a
/// list), `insert`, and — the core's own statements ([`OutboxStatements`]), one parameter (the id) each —
/// `status` (`status, error` of a row), `delete`, `block` (QMQ's BLOCK: `status = -100,
/// error + 1`), `count_error` (`error + 1`, left for the watchdog); `rows` lists every row.
/// "Now" is the database's clock, as in the core.
#[pyfunction]
pub(crate) fn outbox_sql<'py>(
    py: Python<'py>,
    dialect: &str,
    table: &str,
    paramstyle: &str,
) -> PyResult<Bound<'py, PyDict>> {
    let d = outbox_dialect(dialect)?;
    let style = param_style(paramstyle)?;
    let sql =
        OutboxStatements::with_param_style(d, table, style).map_err(|e| outbox_error(py, &e))?;
    let out = PyDict::new(py);
    let text = ddl(d, table).map_err(|e| outbox_error(py, &e))?;
    out.set_item("ddl", split_statements(&text))?;
    out.set_item("insert", sql.insert)?;
    out.set_item("status", sql.status)?;
    out.set_item("delete", sql.delete)?;
    out.set_item("block", sql.block)?;
    out.set_item("count_error", sql.count_error)?;
    out.set_item("rows", sql.all)?;
    Ok(out)
}

/// The dedup INSERT of transactional idempotence: one parameter, the key; 1 row changed means
/// first time, 0 a duplicate.
#[pyfunction]
pub(crate) fn dedup_insert_sql(dialect: &str, table: &str, paramstyle: &str) -> PyResult<String> {
    dedup::dedup_insert_sql(outbox_dialect(dialect)?, table, param_style(paramstyle)?)
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The shipped DDL of the idempotence table, one statement per item.
#[pyfunction]
pub(crate) fn dedup_ddl(dialect: &str, table: &str) -> PyResult<Vec<String>> {
    dedup::ddl(outbox_dialect(dialect)?, table)
        .map(|ddl| split_statements(&ddl))
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The idempotence key `<subject>%<group>%<message_id>` (at most 100 bytes: a longer one is
/// cut and suffixed with a hash, exactly as the core's stores do).
#[pyfunction]
pub(crate) fn idempotence_key(subject: &str, group: &str, message_id: &str) -> String {
    IdempotenceKey::new(subject, group, message_id)
        .as_str()
        .to_owned()
}

/// A message read from a `qmq.Message` with its final id, and its row content.
#[pyclass(frozen, module = "qmq._native")]
pub struct PreparedRef {
    message: ProducerMessage,
    content: String,
}

#[pymethods]
impl PreparedRef {
    /// The row's `content` (QMQ's JSON of the message).
    #[getter]
    fn content(&self) -> &str {
        &self.content
    }

    /// The message id the row holds and the send uses.
    #[getter]
    fn message_id(&self) -> &str {
        self.message.message_id()
    }

    /// The subject.
    #[getter]
    fn subject(&self) -> &str {
        self.message.subject()
    }
}

/// An outbox: the core's own connection to the table, plus the producer that sends its rows.
#[pyclass(frozen, module = "qmq._native")]
pub struct OutboxRef {
    outbox: Outbox,
    producer: qmq_core::client::Producer,
    owner: Owner,
}

/// One send's outcome as Python sees it: `(row_id, message_id, broker_group, attempts,
/// row_deleted)`, or the exception.
fn result_object<'py>(py: Python<'py>, result: OutboxResult) -> PyResult<Bound<'py, PyAny>> {
    match result {
        Ok(r) => Ok((
            r.row_id,
            r.receipt.message_id.as_str(),
            r.receipt.broker_group.as_str(),
            r.receipt.attempts,
            r.row_deleted,
        )
            .into_pyobject(py)?
            .into_any()),
        Err(e) => Ok(outbox_error(py, &e)
            .into_value(py)
            .into_bound(py)
            .into_any()),
    }
}

impl OutboxRef {
    /// Refuses core-side database work on a SQLite outbox (see the module docs).
    fn core_owned(&self, py: Python<'_>, op: &str) -> PyResult<()> {
        self.owner.check(py)?;
        if self.outbox.database().dialect() == Dialect::Sqlite {
            return Err(errors::qmq_error(
                py,
                "OutboxError",
                &format!("{op}: a SQLite outbox is kept by the host's sqlite3, not the core"),
                "HostOwned",
                false,
            ));
        }
        Ok(())
    }
}

#[pymethods]
impl OutboxRef {
    /// An outbox in `table` of the database at `location` (a `postgres://` or `mysql://` URL
    /// or a SQLite file path: the database the host's connection writes to), sending with
    /// `producer`. Connects lazily.
    #[new]
    fn new(py: Python<'_>, producer: &ProducerRef, location: &str, table: &str) -> PyResult<Self> {
        producer.owner().check(py)?;
        let location = DatabaseLocation::parse(location).map_err(|e| outbox_error(py, &e))?;
        let db = OutboxDatabase::new(location, table).map_err(|e| outbox_error(py, &e))?;
        Ok(Self {
            outbox: Outbox::new(producer.core().clone(), Arc::new(db)),
            producer: producer.core().clone(),
            owner: producer.owner(),
        })
    }

    /// `"sqlite"`, `"postgres"` or `"mysql"`.
    #[getter]
    fn dialect(&self) -> &'static str {
        self.outbox.database().dialect().name()
    }

    /// The table name.
    #[getter]
    fn table(&self) -> &str {
        self.outbox.database().table()
    }

    /// The database, for messages (a URL without its password, or the SQLite path).
    #[getter]
    fn location(&self) -> &str {
        self.outbox.database().display()
    }

    /// The SQLite file, or `None` for a server database.
    #[getter]
    fn sqlite_path(&self) -> Option<String> {
        match self.outbox.database().location() {
            DatabaseLocation::Sqlite(path) => Some(path.display().to_string()),
            _ => None,
        }
    }

    /// The staging INSERT in the host driver's `paramstyle`.
    fn insert_sql(&self, py: Python<'_>, paramstyle: &str) -> PyResult<String> {
        insert_sql(
            self.outbox.database().dialect(),
            self.outbox.database().table(),
            param_style(paramstyle)?,
        )
        .map_err(|e| outbox_error(py, &e))
    }

    /// Creates the table and its index if missing (shipped DDL), through the core's
    /// connection (PostgreSQL, MySQL). Blocks with the GIL released.
    fn create_table(&self, py: Python<'_>) -> PyResult<()> {
        self.core_owned(py, "create_table")?;
        let db = self.outbox.database().clone();
        py.detach(|| db.create_table())
            .map_err(|e| outbox_error(py, &e))
    }

    /// Reads a `qmq.Message` into the message a row will hold (a fresh message id).
    fn prepare(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<PreparedRef> {
        self.owner.check(py)?;
        let message = message::build(&self.producer, message)?;
        Ok(PreparedRef {
            content: encode_content(&message),
            message,
        })
    }

    /// Sends the messages of committed rows `[(prepared, row_id), ...]` and settles their rows
    /// (deleted after the broker stored the message; otherwise counted and left for the
    /// watchdog). Waits for all of them, interruptibly; returns, in order, a result tuple
    /// `(row_id, message_id, broker_group, attempts, row_deleted)` or an `OutboxError`.
    fn send_committed<'py>(
        &self,
        py: Python<'py>,
        items: Vec<(PyRef<'py, PreparedRef>, i64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.core_owned(py, "send_committed")?;
        let row_ids: Vec<i64> = items.iter().map(|(_, row_id)| *row_id).collect();
        let sends: Vec<_> = items
            .into_iter()
            .map(|(prepared, row_id)| self.outbox.send_outboxed(prepared.message.clone(), row_id))
            .collect();
        let (tx, rx) = channel::<(usize, OutboxResult)>();
        let rx = Mutex::new(rx);
        // `OutboxSend::wait` blocks: wait on a plain thread and hand results over a channel,
        // so this thread can wait in slices and stay interruptible.
        std::thread::Builder::new()
            .name("qmq-py-outbox".to_owned())
            .spawn(move || {
                for (i, send) in sends.into_iter().enumerate() {
                    if tx.send((i, send.wait())).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| {
                PyErr::new::<pyo3::exceptions::PyRuntimeError, _>(format!(
                    "cannot start the outbox wait thread: {e}"
                ))
            })?;
        let mut results: Vec<Option<OutboxResult>> = row_ids.iter().map(|_| None).collect();
        for _ in 0..row_ids.len() {
            match wait_for(py, &rx)? {
                Some((i, r)) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                None => break,
            }
        }
        let items = results
            .into_iter()
            .zip(row_ids)
            .map(|(r, row_id)| {
                // A result that never came: the wait thread died; the row is untouched.
                result_object(py, r.unwrap_or(Err(OutboxError::Abandoned { row_id })))
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Sends prepared messages with the producer only (no database work: the host settles
    /// the rows, see the module docs) and waits for all of them, interruptibly. Returns, in
    /// order, `(receipt_tuple, None, False)` or `(None, exception, blocked)`, where `blocked`
    /// says the broker answered BLOCK.
    fn send_prepared<'py>(
        &self,
        py: Python<'py>,
        items: Vec<PyRef<'py, PreparedRef>>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.owner.check(py)?;
        let total = items.len();
        let (tx, rx) = channel::<(usize, SendResult)>();
        let rx = Mutex::new(rx);
        let mut results: Vec<Option<SendResult>> = (0..total).map(|_| None).collect();
        let mut pending = 0usize;
        for (i, prepared) in items.iter().enumerate() {
            let tx = tx.clone();
            let queued = self.producer.send_with_callback(
                prepared.message.clone(),
                Box::new(move |r| {
                    let _ = tx.send((i, r));
                }),
            );
            match queued {
                Ok(()) => pending += 1,
                Err(e) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(Err(e));
                    }
                }
            }
        }
        drop(tx);
        for _ in 0..pending {
            match wait_for(py, &rx)? {
                Some((i, r)) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                }
                None => break,
            }
        }
        let items = results
            .into_iter()
            .map(|r| {
                let none = py.None().into_bound(py);
                match r.unwrap_or(Err(ClientError::ProducerClosed)) {
                    Ok(receipt) => Ok(PyTuple::new(
                        py,
                        [
                            crate::producer::receipt_tuple(py, &receipt)?.into_any(),
                            none,
                            false.into_pyobject(py)?.to_owned().into_any(),
                        ],
                    )?
                    .into_any()),
                    Err(e) => {
                        let blocked = matches!(&e, ClientError::SendRejected { code, .. }
                            if *code == MessageProducerCode::Block as i32);
                        Ok(PyTuple::new(
                            py,
                            [
                                none,
                                errors::to_py(py, &e)
                                    .into_value(py)
                                    .into_bound(py)
                                    .into_any(),
                                blocked.into_pyobject(py)?.to_owned().into_any(),
                            ],
                        )?
                        .into_any())
                    }
                }
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Every row `(id, content, status, error)`, by id, read through the core's connection
    /// (for tests and tools).
    fn rows<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.core_owned(py, "rows")?;
        let db = self.outbox.database().clone();
        let rows = py.detach(|| db.rows()).map_err(|e| outbox_error(py, &e))?;
        rows.into_iter()
            .map(|r| (r.id, r.content, r.status, r.error).into_pyobject(py))
            .collect()
    }

    /// Drops the core's connection (the next call reconnects).
    fn disconnect(&self) {
        self.outbox.database().disconnect();
    }
}
