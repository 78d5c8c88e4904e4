//! Transactional messages (spec §12): QMQ's local transaction table `qmq_msg_queue` — an
//! outbox in the application's own database. A message is inserted as a row inside the
//! application's database transaction, so it exists if and only if the transaction commits;
//! after the commit the core sends it and deletes the row; rows left behind (the process died,
//! the broker was unreachable) are resent by `qmq-server watchdog`.
//!
//! Files: [`schema`] (DDL, shipped as `core/sql/<dialect>/qmq_msg_queue.sql`), [`dialect`]
//! (the SQL of every step), [`content`] (the `content` column, QMQ's JSON), [`location`]
//! (where the table lives), `stage` (the caller's transaction), `database` (the core's own
//! connection), `outbox` (stage → commit → send → delete), and one file per driver
//! (`sqlite`, `postgres` with feature `postgres`, `mysql` with feature `mysql`).
//!
//! # Rust
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use qmq_core::client::transaction::{Outbox, OutboxDatabase};
//! # fn demo(client: &qmq_core::client::Client, conn: &mut rusqlite::Connection) -> Result<(), Box<dyn std::error::Error>> {
//! let db = Arc::new(OutboxDatabase::open("app.db")?); // the core's own connection
//! db.create_table()?;
//! let outbox = Outbox::new(client.producer(), db);
//! let mut tx = conn.transaction()?;
//! tx.execute("UPDATE account SET balance = balance - 10 WHERE id = 1", [])?;
//! let staged = outbox.stage(&mut tx, client.producer().generate_message("account.changed")?)?;
//! let receipt = staged.commit_and_send(tx)?.wait()?; // or tx.commit()?; staged.send_after_commit()
//! # let _ = receipt; Ok(()) }
//! ```
//!
//! # Hooks for host bindings (Python `sqlite3`/psycopg, Java JDBC, ...)
//!
//! A host inserts the row with its own driver, in its own transaction, and hands the row id
//! to the core after the commit (the table itself comes from [`ddl`]`(dialect, table)` or
//! [`OutboxDatabase::create_table`]):
//! 1. [`insert_sql`]`(dialect, table, ParamStyle) -> Result<String, OutboxError>`: the INSERT,
//!    one parameter; PostgreSQL's ends in `RETURNING id`, elsewhere read the driver's last
//!    insert id;
//! 2. [`encode_content`]`(&ProducerMessage) -> String`: the parameter's value;
//! 3. after the host's commit, [`Outbox::send_outboxed`]`(&self, message: ProducerMessage,
//!    row_id: i64) -> OutboxSend`, where the `Outbox` was built once with
//!    [`OutboxDatabase::open`]`(location: &str)` (a `postgres://`, `mysql://` URL or a SQLite
//!    file path — the same database the host writes to) and [`Outbox::new`]`(producer,
//!    Arc<OutboxDatabase>)`. It checks the row is committed (else
//!    [`OutboxError::NotCommitted`], nothing sent), sends, then deletes the row through the
//!    core's own connection (on BLOCK: `status = -100, error + 1`; other failures:
//!    `error + 1`, left for the watchdog). [`OutboxSend`] is a future, has a blocking
//!    [`OutboxSend::wait`] and a callback form [`OutboxSend::on_complete`]`(self,
//!    OutboxCallback)` (called exactly once); nothing blocks the host's thread before that.
//!
//! Instead of step 3 a host may call [`Outbox::send_row`]`(&self, row_id: i64) -> OutboxSend`:
//! the core reads the committed row's `content` back and sends that, so the host needs nothing
//! but the row id. A host that rolls back simply never calls step 3.
//!
//! Invariants:
//! * a row is sent only after it is visible to a connection other than the caller's, i.e.
//!   committed;
//! * a row is deleted only after a broker acknowledged its message (at-least-once: a crash
//!   between the two resends it, with the same message id);
//! * rows are QMQ-compatible: the MySQL table is QMQ's `init_client.sql` (plus a default for
//!   `create_time`, so inserts may leave it out), `content` is Gson's
//!   JSON of `BaseMessage`, and the watchdog adds `qmq_sequence = id` like QMQ's.

pub mod content;
mod database;
pub mod dialect;
mod error;
pub mod location;
mod outbox;
pub mod schema;
mod stage;

mod sqlite;

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "mysql")]
pub mod mysql;

pub use content::{ContentError, decode_content, encode_content};
pub use database::{OutboxDatabase, OutboxRow};
pub use dialect::{Dialect, ParamStyle, insert_sql, validate_table};
pub use error::{OutboxError, RowFate};
pub use location::DatabaseLocation;
pub use outbox::{Outbox, OutboxCallback, OutboxReceipt, OutboxResult, OutboxSend, Staged};
pub use schema::{DEFAULT_TABLE, ddl};
pub use stage::StageTransaction;

use crate::client::producer::ProducerMessage;
use crate::protocol::names::attr;

/// The watchdog's status values (QMQ's).
pub mod status {
    /// Waiting to be sent.
    pub const PENDING: i16 = 0;
    /// The send threw (the producer refused the message).
    pub const SEND_EXCEPTION: i16 = -1;
    /// Bad content, or too many failed attempts: never resent.
    pub const INVALID: i16 = -2;
    /// The broker answered BLOCK.
    pub const BLOCKED: i16 = -100;
}

impl OutboxRow {
    /// The row's message as the watchdog resends it: decoded from `content`, with
    /// `qmq_sequence = id` added (QMQ's watchdog does the same).
    ///
    /// # Errors
    /// [`OutboxError::Content`] for content that is not a sendable message.
    pub fn to_message(&self) -> Result<ProducerMessage, OutboxError> {
        let mut message = decode_content(&self.content).map_err(|source| OutboxError::Content {
            row_id: self.id,
            source,
        })?;
        message.set_reserved(attr::SEQUENCE, self.id.to_string());
        Ok(message)
    }
}
