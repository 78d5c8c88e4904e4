//! The loop that watches one database: take the lock, claim due rows, resend them, settle
//! each row by the outcome.
//!
//! Row verdicts (QMQ's values):
//! * broker stored it → row deleted;
//! * bad content, or `error ≥ max_errors` → `status = -2`, never resent;
//! * broker answered BLOCK → `status = -100`;
//! * the producer refused the message itself (invalid) → `status = -1`;
//! * any other failure (broker unreachable, timeout, queue full) → `error + 1`, status stays 0:
//!   resent once it is `age_threshold` old again.
//!
//! Invariants: one OS thread per database, because every driver call blocks; it never panics
//! on database errors — they are logged with the database and the step, and the next scan
//! reconnects; a claimed row is touched (`update_time = now`) so no other watchdog resends it
//! within `age_threshold`, even if the lock changes hands mid-scan.

use std::sync::Arc;
use std::time::{Duration, Instant};

use qmq_core::client::transaction::{OutboxDatabase, OutboxError, OutboxRow, status};
use qmq_core::client::{ClientError, Producer, SendFuture};
use qmq_core::protocol::MessageProducerCode;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::config::WatchdogConfig;
use super::lock::DbLock;

/// What one scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Whether this watchdog held the database's lock.
    pub leader: bool,
    /// Rows claimed.
    pub claimed: usize,
    /// Rows sent and deleted.
    pub sent: usize,
    /// Rows that failed and were counted.
    pub failed: usize,
}

/// Watches one database until `token` is cancelled.
pub(crate) struct Worker {
    pub(crate) db: Arc<OutboxDatabase>,
    pub(crate) lock: DbLock,
    pub(crate) producer: Producer,
    pub(crate) config: WatchdogConfig,
    pub(crate) runtime: Handle,
    pub(crate) token: CancellationToken,
}

impl Worker {
    pub(crate) fn run(mut self) {
        let db = self.db.display().to_owned();
        info!(db, table = self.db.table(), "watchdog watching outbox");
        let mut was_leader = false;
        let mut healthy = true;
        while !self.token.is_cancelled() {
            let full = match self.scan() {
                Ok(outcome) => {
                    if !healthy {
                        info!(db, "outbox database reachable again");
                        healthy = true;
                    }
                    if outcome.leader != was_leader {
                        info!(db, leader = outcome.leader, "watchdog lock changed");
                        was_leader = outcome.leader;
                    }
                    if outcome.claimed > 0 {
                        info!(
                            db,
                            claimed = outcome.claimed,
                            sent = outcome.sent,
                            failed = outcome.failed,
                            "outbox rows resent"
                        );
                    }
                    outcome.claimed as u32 >= self.config.batch
                }
                Err(err) => {
                    healthy = false;
                    was_leader = false;
                    warn!(db, cause = %error_chain(&err), "outbox scan failed; retrying next scan");
                    false
                }
            };
            if !full {
                self.sleep(self.config.scan_interval());
            }
        }
        self.lock.release();
        info!(db, "watchdog stopped");
    }

    /// One scan: lock, claim, send, settle.
    ///
    /// # Errors
    /// The database failed before rows were claimed (after that, failures are per row).
    pub(crate) fn scan(&mut self) -> Result<ScanOutcome, OutboxError> {
        if !self.lock.ensure()? {
            debug!(db = self.db.display(), "another watchdog holds the lock");
            return Ok(ScanOutcome::default());
        }
        let rows = self
            .db
            .claim_due(self.config.age_threshold(), self.config.batch)?;
        let mut outcome = ScanOutcome {
            leader: true,
            claimed: rows.len(),
            ..ScanOutcome::default()
        };
        let mut sends: Vec<(i64, String, SendFuture)> = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(future) = self.prepare(row) {
                sends.push(future);
            }
        }
        let deadline = tokio::time::Instant::now() + self.config.send_timeout();
        for (row_id, message_id, future) in sends {
            let token = self.token.clone();
            let result = self.runtime.block_on(async {
                tokio::select! {
                    r = tokio::time::timeout_at(deadline, future) => r.unwrap_or(Err(ClientError::FlushTimeout {
                        pending: 1,
                        deadline: self.config.send_timeout(),
                    })),
                    // Stopping: leave the row as it is; it is resent after age_threshold.
                    () = token.cancelled() => Err(ClientError::ProducerClosed),
                }
            });
            if self.settle(row_id, &message_id, result) {
                outcome.sent += 1;
            } else {
                outcome.failed += 1;
            }
        }
        Ok(outcome)
    }

    /// Decodes a claimed row and queues its message; rows that must not be sent are marked.
    fn prepare(&self, row: &OutboxRow) -> Option<(i64, String, SendFuture)> {
        let db = self.db.display();
        if row.error >= self.config.max_errors {
            warn!(
                db,
                row_id = row.id,
                errors = row.error,
                "outbox row failed too often; given up (status -2)"
            );
            self.record(row.id, Some(status::INVALID));
            return None;
        }
        match row.to_message() {
            Ok(message) => {
                let message_id = message.message_id().to_owned();
                Some((row.id, message_id, self.producer.send(message)))
            }
            Err(err) => {
                warn!(db, row_id = row.id, cause = %error_chain(&err), "outbox row has bad content (status -2)");
                self.record(row.id, Some(status::INVALID));
                None
            }
        }
    }

    /// Applies a send's outcome to its row; `true` if the message was stored.
    fn settle(
        &self,
        row_id: i64,
        message_id: &str,
        result: Result<qmq_core::client::SendReceipt, ClientError>,
    ) -> bool {
        let db = self.db.display();
        match result {
            Ok(_) => {
                if let Err(err) = self.db.delete(row_id) {
                    // The broker has the message; the row comes back after age_threshold and is
                    // sent again with the same message id (at-least-once).
                    warn!(db, row_id, message_id, cause = %error_chain(&err), "resent outbox row not deleted");
                }
                true
            }
            Err(ClientError::ProducerClosed) => false, // shutting down: leave the row as it is
            Err(err) => {
                let verdict = match &err {
                    ClientError::SendRejected { code, .. }
                        if *code == MessageProducerCode::Block as i32 =>
                    {
                        Some(status::BLOCKED)
                    }
                    ClientError::InvalidMessage { .. }
                    | ClientError::PropertyTooLong { .. }
                    | ClientError::InvalidName { .. } => Some(status::SEND_EXCEPTION),
                    _ => None,
                };
                warn!(db, row_id, message_id, ?verdict, cause = %err.describe(), "outbox row resend failed");
                self.record(row_id, verdict);
                false
            }
        }
    }

    /// `error + 1`, and the status if given.
    fn record(&self, row_id: i64, verdict: Option<i16>) {
        let result = match verdict {
            Some(status) => self.db.mark(row_id, status),
            None => self.db.count_error(row_id),
        };
        if let Err(err) = result {
            warn!(db = self.db.display(), row_id, cause = %error_chain(&err), "outbox row verdict not recorded");
        }
    }

    fn sleep(&self, total: Duration) {
        let end = Instant::now() + total;
        while !self.token.is_cancelled() {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

/// An error and its causes, `": "`-separated (driver errors say the useful part in a source).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
