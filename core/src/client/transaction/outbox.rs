//! [`Outbox`]: stage a message through the caller's transaction, send it once the transaction
//! committed, and settle its row through the core's own connection.
//!
//! Invariants:
//! * nothing is sent for a row the core's connection cannot see: a rolled-back (or not yet
//!   committed) transaction yields [`OutboxError::NotCommitted`] and no send;
//! * a [`Staged`] that is dropped without sending leaves its row (if committed) for the
//!   watchdog — forgetting to send delays a message, it never loses one;
//! * after the broker stored the message the row is deleted; on BLOCK it gets
//!   `status = -100, error + 1`; on any other failure `error + 1` and stays pending;
//! * all database work after staging runs on the client runtime's blocking pool, never on the
//!   caller's thread or an async worker; the send itself is the producer's ordinary send.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::content::{decode_content, encode_content};
use super::database::OutboxDatabase;
use super::error::{OutboxError, RowFate};
use super::stage::StageTransaction;
use crate::client::ClientError;
use crate::client::producer::{Producer, ProducerMessage, SendReceipt};
use crate::protocol::MessageProducerCode;

/// What a successful outbox send reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxReceipt {
    /// The row id.
    pub row_id: i64,
    /// The producer's receipt.
    pub receipt: SendReceipt,
    /// Whether the row was deleted. `false` when the delete failed after the broker stored the
    /// message: the watchdog will send it again (same message id — consumers deduplicate).
    pub row_deleted: bool,
}

/// The result of an outbox send.
pub type OutboxResult = Result<OutboxReceipt, OutboxError>;

/// Sends staged messages after commit; cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    producer: Producer,
    db: Arc<OutboxDatabase>,
}

impl Outbox {
    /// An outbox sending with `producer` and settling rows through `db`.
    pub fn new(producer: Producer, db: Arc<OutboxDatabase>) -> Self {
        Self { producer, db }
    }

    /// The core's connection to the outbox table.
    pub fn database(&self) -> &Arc<OutboxDatabase> {
        &self.db
    }

    /// Inserts `message`'s row through the caller's open transaction `tx`. Commit `tx`, then
    /// call [`Staged::send_after_commit`] — or let [`Staged::commit_and_send`] do both.
    ///
    /// # Errors
    /// [`OutboxError::DialectMismatch`], or the driver's insert error (the caller's
    /// transaction is then in the driver's error state; roll it back).
    pub fn stage<T: StageTransaction>(
        &self,
        tx: &mut T,
        message: ProducerMessage,
    ) -> Result<Staged, OutboxError> {
        if T::DIALECT != self.db.dialect() {
            return Err(OutboxError::DialectMismatch {
                expected: self.db.dialect(),
                given: T::DIALECT,
            });
        }
        let row_id = tx.insert_outbox_row(self.db.insert_statement(), &encode_content(&message))?;
        Ok(Staged {
            outbox: self.clone(),
            row_id,
            message,
        })
    }

    /// The host hook: `row_id` is a row the host inserted and committed itself (with
    /// [`insert_sql`](super::insert_sql) and [`encode_content`](super::encode_content) of this
    /// `message`). Checks the row is committed, sends, then deletes (or counts) the row
    /// through the core's connection. Never blocks the caller.
    pub fn send_outboxed(&self, message: ProducerMessage, row_id: i64) -> OutboxSend {
        let (tx, rx) = oneshot::channel();
        let outbox = self.clone();
        let handle = self.producer.runtime_handle().clone();
        // If the runtime is gone the closure is dropped with `tx`: the caller sees Abandoned
        // and the committed row waits for the watchdog.
        drop(handle.spawn_blocking(move || outbox.check_then_send(Some(message), row_id, tx)));
        OutboxSend { row_id, rx, handle }
    }

    /// The simplest host hook: sends the message stored in committed row `row_id` (read back
    /// through the core's connection and decoded from its `content`), then settles the row as
    /// [`Outbox::send_outboxed`] does. The host needs only the row id its INSERT returned.
    pub fn send_row(&self, row_id: i64) -> OutboxSend {
        let (tx, rx) = oneshot::channel();
        let outbox = self.clone();
        let handle = self.producer.runtime_handle().clone();
        drop(handle.spawn_blocking(move || outbox.check_then_send(None, row_id, tx)));
        OutboxSend { row_id, rx, handle }
    }

    fn check_then_send(
        self,
        message: Option<ProducerMessage>,
        row_id: i64,
        done: oneshot::Sender<OutboxResult>,
    ) {
        let message = match self.db.row(row_id) {
            Ok(Some(row)) if row.status == 0 => match message {
                Some(message) => message,
                None => match decode_content(&row.content) {
                    Ok(message) => message,
                    Err(source) => {
                        let err = OutboxError::Content { row_id, source };
                        return drop(done.send(Err(err)));
                    }
                },
            },
            Ok(_) => return drop(done.send(Err(OutboxError::NotCommitted { row_id }))),
            Err(e) => {
                // Unknown whether committed: leave any row to the watchdog.
                tracing::warn!(row_id, db = self.db.display(), cause = %e, "outbox row not checked; left for the watchdog");
                return drop(done.send(Err(e)));
            }
        };
        let message_id = message.message_id().to_owned();
        let handle = self.producer.runtime_handle().clone();
        let db = self.db.clone();
        // Shared with the callback so that a refused send can still be reported here.
        let done = Arc::new(Mutex::new(Some(done)));
        let reply = done.clone();
        let callback = Box::new(move |result: Result<SendReceipt, ClientError>| {
            // Settling the row is blocking I/O: off the runtime's async workers.
            drop(handle.spawn_blocking(move || {
                let outcome = settle(&db, row_id, message_id, result);
                if let Some(tx) = take(&reply) {
                    drop(tx.send(outcome));
                }
            }));
        });
        let id = message.message_id().to_owned();
        if let Err(source) = self.producer.send_with_callback(message, callback) {
            let row = fate_after_failure(&self.db, row_id, &source);
            if let Some(tx) = take(&done) {
                drop(tx.send(Err(OutboxError::Send {
                    row_id,
                    message_id: id,
                    row,
                    source: Box::new(source),
                })));
            }
        }
    }
}

fn take(
    slot: &Mutex<Option<oneshot::Sender<OutboxResult>>>,
) -> Option<oneshot::Sender<OutboxResult>> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// After the send: delete the row, or record the failure on it.
fn settle(
    db: &OutboxDatabase,
    row_id: i64,
    message_id: String,
    result: Result<SendReceipt, ClientError>,
) -> OutboxResult {
    match result {
        Ok(receipt) => {
            let row_deleted = match db.delete(row_id) {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(row_id, db = db.display(), cause = %e, "outbox row not deleted after send; the watchdog will resend it");
                    false
                }
            };
            Ok(OutboxReceipt {
                row_id,
                receipt,
                row_deleted,
            })
        }
        Err(source) => Err(OutboxError::Send {
            row_id,
            message_id,
            row: fate_after_failure(db, row_id, &source),
            source: Box::new(source),
        }),
    }
}

fn fate_after_failure(db: &OutboxDatabase, row_id: i64, err: &ClientError) -> RowFate {
    let blocked = matches!(err, ClientError::SendRejected { code, .. }
        if *code == MessageProducerCode::Block as i32);
    let updated = if blocked {
        db.block(row_id)
    } else {
        db.count_error(row_id)
    };
    match updated {
        Ok(_) if blocked => RowFate::Blocked,
        Ok(_) => RowFate::LeftForWatchdog,
        Err(e) => {
            tracing::warn!(row_id, db = db.display(), cause = %e, "outbox failure not recorded on the row");
            RowFate::Unchanged
        }
    }
}

/// A row inserted through the caller's transaction, not sent yet. Dropping it sends nothing:
/// a committed row is then left for the watchdog.
#[must_use = "commit the transaction and call send_after_commit, or the message waits for the watchdog"]
#[derive(Debug)]
pub struct Staged {
    outbox: Outbox,
    row_id: i64,
    message: ProducerMessage,
}

impl Staged {
    /// The row's id (what the watchdog adds as `qmq_sequence`).
    pub fn row_id(&self) -> i64 {
        self.row_id
    }

    /// The staged message.
    pub fn message(&self) -> &ProducerMessage {
        &self.message
    }

    /// Sends the message once the caller committed; see [`Outbox::send_outboxed`]. After a
    /// rollback this resolves to [`OutboxError::NotCommitted`] and sends nothing.
    pub fn send_after_commit(self) -> OutboxSend {
        self.outbox.send_outboxed(self.message, self.row_id)
    }

    /// Commits `tx` (the transaction the row was staged in), then sends.
    ///
    /// # Errors
    /// The commit failed: nothing is sent (the row was rolled back with the transaction).
    pub fn commit_and_send<T: StageTransaction>(self, tx: T) -> Result<OutboxSend, OutboxError> {
        tx.commit_outbox()?;
        Ok(self.send_after_commit())
    }
}

/// The pending result of an outbox send: `.await` it, or [`OutboxSend::wait`] from a plain
/// thread. Dropping it does not cancel the send.
#[must_use = "the outcome is only known by awaiting or waiting"]
#[derive(Debug)]
pub struct OutboxSend {
    row_id: i64,
    rx: oneshot::Receiver<OutboxResult>,
    handle: tokio::runtime::Handle,
}

/// A host callback for [`OutboxSend::on_complete`].
pub type OutboxCallback = Box<dyn FnOnce(OutboxResult) + Send + 'static>;

/// Calls its callback exactly once: with the result, or with [`OutboxError::Abandoned`] if it
/// is dropped first (the runtime stopped before the send finished).
struct CallOnce {
    row_id: i64,
    callback: Option<OutboxCallback>,
}

impl CallOnce {
    fn call(mut self, result: OutboxResult) {
        if let Some(cb) = self.callback.take() {
            if catch_unwind(AssertUnwindSafe(|| cb(result))).is_err() {
                tracing::error!(row_id = self.row_id, "outbox callback panicked");
            }
        }
    }
}

impl Drop for CallOnce {
    fn drop(&mut self) {
        if let Some(cb) = self.callback.take() {
            let row_id = self.row_id;
            if catch_unwind(AssertUnwindSafe(|| {
                cb(Err(OutboxError::Abandoned { row_id }))
            }))
            .is_err()
            {
                tracing::error!(row_id, "outbox callback panicked");
            }
        }
    }
}

impl OutboxSend {
    /// Calls `callback` exactly once with the outcome, on a client runtime thread (or, if the
    /// client is torn down first, with [`OutboxError::Abandoned`] on the thread doing it). For
    /// hosts whose completion model is a callback (JNI, C); the callback must not block.
    pub fn on_complete(self, callback: OutboxCallback) {
        let call = CallOnce {
            row_id: self.row_id,
            callback: Some(callback),
        };
        let handle = self.handle.clone();
        drop(handle.spawn(async move {
            let result = self.await;
            call.call(result);
        }));
    }

    /// The row id.
    pub fn row_id(&self) -> i64 {
        self.row_id
    }

    /// Blocks until the send and the row's settlement are done.
    ///
    /// # Errors
    /// [`OutboxError::BlockingInAsyncContext`] inside an async runtime; otherwise the outcome.
    pub fn wait(self) -> OutboxResult {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(OutboxError::BlockingInAsyncContext {
                op: "OutboxSend::wait",
            });
        }
        let row_id = self.row_id;
        self.rx
            .blocking_recv()
            .unwrap_or(Err(OutboxError::Abandoned { row_id }))
    }
}

impl Future for OutboxSend {
    type Output = OutboxResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OutboxResult> {
        let row_id = self.row_id;
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(OutboxError::Abandoned { row_id })))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::client::transaction::DatabaseLocation;

    fn sqlite_db(dir: &tempfile::TempDir) -> OutboxDatabase {
        let path = dir.path().join("app.db");
        let db = OutboxDatabase::new(DatabaseLocation::Sqlite(path), "qmq_msg_queue").unwrap();
        db.create_table().unwrap();
        db
    }

    fn receipt() -> SendReceipt {
        SendReceipt {
            message_id: "m".into(),
            broker_group: "g".into(),
            attempts: 1,
        }
    }

    #[test]
    fn settling_deletes_blocks_or_counts_like_qmq() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let (sent, blocked, failed) = (
            db.insert("{}").unwrap(),
            db.insert("{}").unwrap(),
            db.insert("{}").unwrap(),
        );
        let ok = settle(&db, sent, "m".into(), Ok(receipt())).unwrap();
        assert!(ok.row_deleted);
        assert_eq!(db.status(sent).unwrap(), None);

        let block = ClientError::SendRejected {
            message_id: "m".into(),
            broker_group: "g".into(),
            code: MessageProducerCode::Block as i32,
            remark: "blocked".into(),
        };
        let err = settle(&db, blocked, "m".into(), Err(block)).unwrap_err();
        assert!(
            matches!(
                err,
                OutboxError::Send {
                    row: RowFate::Blocked,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(db.status(blocked).unwrap(), Some((-100, 1)));

        let unreachable = ClientError::NoRoute {
            subject: "s".into(),
            client_type: crate::protocol::ClientType::Producer,
        };
        let err = settle(&db, failed, "m".into(), Err(unreachable)).unwrap_err();
        assert!(matches!(
            err,
            OutboxError::Send {
                row: RowFate::LeftForWatchdog,
                ..
            }
        ));
        assert_eq!(db.status(failed).unwrap(), Some((0, 1)));
    }

    #[test]
    fn sqlite_claims_are_exclusive_and_age_gated() {
        let dir = tempfile::tempdir().unwrap();
        let db = sqlite_db(&dir);
        let other = sqlite_db(&dir);
        for _ in 0..5 {
            db.insert("{}").unwrap();
        }
        assert!(
            db.claim_due(Duration::from_secs(60), 50)
                .unwrap()
                .is_empty(),
            "too young"
        );
        // Age the rows, as if their producer had died two minutes ago.
        let conn = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
        conn.execute(
            "UPDATE qmq_msg_queue SET update_time = datetime('now', '-120 seconds')",
            [],
        )
        .unwrap();
        let first = db.claim_due(Duration::from_secs(60), 3).unwrap();
        assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 2, 3]);
        // A second watchdog sees only the rows nobody claimed.
        let second = other.claim_due(Duration::from_secs(60), 50).unwrap();
        assert_eq!(second.iter().map(|r| r.id).collect::<Vec<_>>(), [4, 5]);
        assert!(
            db.claim_due(Duration::from_secs(60), 50)
                .unwrap()
                .is_empty()
        );
    }
}
