//! ACK (spec §5): cumulative ranges of pull offsets; a gap before the range counts as failed and
//! its messages go to the retry subject before the range is acked.

use qmq_core::protocol::AckRequest;
use qmq_core::protocol::ConsumeFromWhere;
use qmq_core::protocol::names::{real_subject, retry_subject};
use tracing::{info, warn};

use super::{ConsumerManager, hold, is_valid_name};
use crate::broker::error::BrokerError;
use crate::broker::store::AppendMessage;

/// What an ack did (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// A heartbeat ack (`begin < 0`).
    Heartbeat,
    /// Nothing new was acked (duplicate or beyond what was pulled).
    Duplicate,
    /// `[first, last]` acked; `retried` gap messages were sent to the retry subject.
    Acked {
        /// First pull offset acked.
        first: i64,
        /// Last pull offset acked.
        last: i64,
        /// Messages copied to the retry subject.
        retried: usize,
    },
}

/// Why an ack was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckRejection {
    /// Subject, group or consumer id is empty or malformed.
    InvalidName,
}

impl ConsumerManager {
    /// Applies an ACK. Runs synchronously (it may append and flush); call it from a blocking
    /// context.
    ///
    /// # Errors
    /// `Ok(Err(_))` for a request that must be answered BROKER_ERROR; `Err` for store failures.
    pub fn ack(
        &self,
        request: &AckRequest,
    ) -> Result<Result<AckOutcome, AckRejection>, BrokerError> {
        let group = if request.is_broadcast && request.group.is_empty() {
            request.consumer_id.as_str()
        } else {
            request.group.as_str()
        };
        let subject = request.subject.as_str();
        let consumer_id = request.consumer_id.as_str();
        if !is_valid_name(subject) || !is_valid_name(group) || !is_valid_name(consumer_id) {
            return Ok(Err(AckRejection::InvalidName));
        }
        if request.is_heartbeat() {
            return Ok(Ok(AckOutcome::Heartbeat));
        }
        let lock = self.group_lock(subject, group);
        let _guard = hold(&lock);
        let progress = self
            .store
            .consumer_progress(subject, group, consumer_id)?
            .unwrap_or_default();
        let acked = progress.ack;
        let last = request.pull_offset_last.min(progress.pull);
        if last <= acked {
            return Ok(Ok(AckOutcome::Duplicate));
        }
        let begin = request.pull_offset_begin.max(acked + 1);
        let mut retried = 0;
        if begin > acked + 1 && !request.is_broadcast {
            retried = self.retry_gap(subject, group, consumer_id, acked + 1, begin - 1)?;
        }
        self.store
            .record_ack(subject, group, consumer_id, acked + 1, last)?;
        Ok(Ok(AckOutcome::Acked {
            first: acked + 1,
            last,
            retried,
        }))
    }

    /// Copies the messages at pull offsets `first..=last` to the group's retry subject (stored
    /// bytes unchanged) and wakes its pollers. Returns how many were copied.
    fn retry_gap(
        &self,
        subject: &str,
        group: &str,
        consumer_id: &str,
        first: i64,
        last: i64,
    ) -> Result<usize, BrokerError> {
        let count = usize::try_from(last - first + 1).unwrap_or(0);
        let seqs = self
            .store
            .pull_log_read(consumer_id, group, subject, first, count)?;
        let mut messages = Vec::with_capacity(seqs.len());
        for seq in seqs {
            match self.store.read_at(subject, seq)? {
                Some(m) => messages.push(m),
                None => warn!(
                    subject,
                    group,
                    consumer_id,
                    offset = seq,
                    "gap message gone"
                ),
            }
        }
        let retry = retry_subject(real_subject(subject), group);
        let batch: Vec<AppendMessage<'_>> = messages
            .iter()
            .filter(|m| self.store.fits(&retry, m.payload.len()))
            .map(|m| AppendMessage {
                subject: &retry,
                crc: m.crc,
                payload: &m.payload,
            })
            .collect();
        if !batch.is_empty() {
            self.store.append(&batch)?;
            self.notify(&retry);
            info!(
                subject,
                group,
                consumer_id,
                count = batch.len(),
                "ack gap sent to retry"
            );
        }
        Ok(batch.len())
    }

    /// Moves `group`'s cursor on `subject` to the newest or the oldest retained message and
    /// checkpoints, so the move survives a restart. Runs synchronously.
    ///
    /// # Errors
    /// Store failures.
    pub fn reset(
        &self,
        subject: &str,
        group: &str,
        from: ConsumeFromWhere,
    ) -> Result<(), BrokerError> {
        {
            let lock = self.group_lock(subject, group);
            let _guard = hold(&lock);
            let initial = self.initial_cursor(subject)?;
            self.store
                .ensure_group(subject, group, None, false, initial)?;
            let cursor = match from {
                ConsumeFromWhere::Latest => self.store.max_sequence(subject)?,
                ConsumeFromWhere::Earliest => self.store.min_sequence(subject)? - 1,
            };
            self.store.set_group_pull(subject, group, cursor)?;
            info!(subject, group, cursor, "consumer group reset");
        }
        self.store.checkpoint()?;
        Ok(())
    }
}
