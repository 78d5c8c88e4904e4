//! PULL (spec §4): redeliver lost pulls first, then take new messages from the group's cursor,
//! filtered by tags, held back on retry subjects, recorded before they are returned; park until
//! new messages or the deadline when there is nothing.

use std::time::Duration;

use qmq_core::protocol::names::{self, SubjectKind};
use qmq_core::protocol::{MessageHeader, PullFilter, PullRequest, TagType};
use tokio::time::Instant;
use tracing::warn;

use super::{ConsumerManager, MAX_PULL_BATCH, PullBatch, hold, is_valid_name};
use crate::broker::error::BrokerError;
use crate::broker::store::{GroupProgress, StoredMessage};

/// Most consume-log entries examined by one pull (bounds the work of a very selective filter).
const MAX_SCAN: i64 = 20_000;

/// What one look at the logs found.
#[derive(Debug)]
enum Outcome {
    Messages(PullBatch),
    /// Nothing new.
    Nothing,
    /// Only filtered-out messages (the cursor moved past them): answer NO_MESSAGE at once.
    FilteredAll,
    /// The next retry message becomes due at this wall-clock time (epoch ms).
    NotDueUntil(i64),
}

impl ConsumerManager {
    /// Serves a PULL: `Ok(None)` means NO_MESSAGE (also for invalid parameters).
    ///
    /// With `timeout_millis > 0` and nothing to hand out, waits until a message for the subject
    /// is appended (or a held-back retry message becomes due) or the timeout passes.
    ///
    /// # Errors
    /// Store failures.
    pub async fn pull(&self, request: &PullRequest) -> Result<Option<PullBatch>, BrokerError> {
        let group = effective_group(request);
        if !is_valid_name(&request.subject)
            || !is_valid_name(group)
            || !is_valid_name(&request.consumer_id)
            || request.request_num <= 0
        {
            return Ok(None);
        }
        let max = (request.request_num as usize).min(MAX_PULL_BATCH);
        let deadline = (request.timeout_millis > 0)
            .then(|| Instant::now() + Duration::from_millis(request.timeout_millis as u64));
        let notify = self.notifier.get(&request.subject);
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let outcome = self.pull_once(request, group, max, now_millis())?;
            let due = match outcome {
                Outcome::Messages(batch) => return Ok(Some(batch)),
                Outcome::FilteredAll => return Ok(None),
                Outcome::Nothing => None,
                Outcome::NotDueUntil(at) => Some(at),
            };
            let Some(deadline) = deadline else {
                return Ok(None);
            };
            let wake = match due {
                Some(at) => {
                    let wait = u64::try_from(at - now_millis()).unwrap_or(0);
                    deadline.min(Instant::now() + Duration::from_millis(wait))
                }
                None => deadline,
            };
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {
                    if wake >= deadline {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// One synchronous look at the logs, under the group lock.
    fn pull_once(
        &self,
        request: &PullRequest,
        group: &str,
        max: usize,
        now: i64,
    ) -> Result<Outcome, BrokerError> {
        let subject = request.subject.as_str();
        let consumer_id = request.consumer_id.as_str();
        let lock = self.group_lock(subject, group);
        let _guard = hold(&lock);
        let initial = self.initial_cursor(subject)?;
        let progress = self.store.ensure_group(
            subject,
            group,
            Some(consumer_id),
            request.is_broadcast,
            initial,
        )?;
        let consumer = progress
            .consumers
            .get(consumer_id)
            .copied()
            .unwrap_or_default();
        // What the client is known to have: its own report, or what it acked.
        let known = request.pull_offset_last.max(consumer.ack);
        if request.is_broadcast {
            // Offsets are consume-log sequences: a lost pull is re-read from the log.
            let from = if consumer.pull > known {
                known + 1
            } else {
                progress.pull + 1
            };
            return self.take_new(request, group, &progress, from, -1, max, now);
        }
        if consumer.pull > known {
            if let Some(batch) = self.redeliver(request, group, known + 1, max)? {
                return Ok(Outcome::Messages(batch));
            }
        }
        self.take_new(
            request,
            group,
            &progress,
            progress.pull + 1,
            consumer.pull + 1,
            max,
            now,
        )
    }

    /// Re-sends what the pull log holds from pull offset `from` on: a contiguous run, skipping
    /// leading entries whose message is gone.
    fn redeliver(
        &self,
        request: &PullRequest,
        group: &str,
        from: i64,
        max: usize,
    ) -> Result<Option<PullBatch>, BrokerError> {
        let subject = request.subject.as_str();
        let seqs = self
            .store
            .pull_log_read(&request.consumer_id, group, subject, from, max)?;
        let mut first = None;
        let mut payloads = Vec::new();
        for (i, seq) in seqs.into_iter().enumerate() {
            match self.store.read_at(subject, seq)? {
                Some(m) => {
                    first.get_or_insert(from + i as i64);
                    payloads.push(m.payload);
                }
                None if first.is_none() => continue,
                None => break,
            }
        }
        Ok(first.map(|first_pull_offset| PullBatch {
            first_pull_offset,
            payloads,
        }))
    }

    /// Takes up to `max` matching messages from consume-log sequence `from` on, records them and
    /// advances the group cursor (also past filtered-out messages).
    #[allow(clippy::too_many_arguments)]
    fn take_new(
        &self,
        request: &PullRequest,
        group: &str,
        progress: &GroupProgress,
        from: i64,
        first_pull: i64,
        max: usize,
        now: i64,
    ) -> Result<Outcome, BrokerError> {
        let subject = request.subject.as_str();
        let held_back = names::parse_subject(subject).0 != SubjectKind::Real;
        let delay = self.retry_delay.as_millis() as i64;
        let filtering = has_tag_filter(&request.filters);
        let mut selected: Vec<StoredMessage> = Vec::new();
        let mut next = from;
        let mut scanned_to = from - 1;
        let mut not_due = None;
        'scan: while selected.len() < max && scanned_to - from < MAX_SCAN {
            let want = if filtering { 256 } else { max - selected.len() };
            let batch = self.store.read(subject, next, want)?;
            if batch.next <= next {
                break;
            }
            for m in batch.messages {
                if held_back && m.time.saturating_add(delay) > now {
                    not_due = Some(m.time.saturating_add(delay));
                    break 'scan;
                }
                scanned_to = m.sequence;
                if !filtering || matches(request, &m) {
                    selected.push(m);
                    if selected.len() == max {
                        break 'scan;
                    }
                }
            }
            // Entries without a readable message (deleted by retention) are passed over too.
            scanned_to = scanned_to.max(batch.next - 1);
            next = batch.next;
        }
        let Some(last) = selected.last().map(|m| m.sequence) else {
            if scanned_to > progress.pull {
                self.store.set_group_pull(subject, group, scanned_to)?;
            }
            if filtering && scanned_to >= from {
                return Ok(Outcome::FilteredAll);
            }
            return Ok(not_due.map_or(Outcome::Nothing, Outcome::NotDueUntil));
        };
        let seqs: Vec<i64> = selected.iter().map(|m| m.sequence).collect();
        self.store.record_pull(
            subject,
            group,
            &request.consumer_id,
            request.is_broadcast,
            first_pull,
            &seqs,
        )?;
        if scanned_to > last && scanned_to > progress.pull {
            self.store.set_group_pull(subject, group, scanned_to)?;
        }
        let first_pull_offset = if request.is_broadcast {
            seqs[0]
        } else {
            first_pull
        };
        Ok(Outcome::Messages(PullBatch {
            first_pull_offset,
            payloads: selected.into_iter().map(|m| m.payload).collect(),
        }))
    }
}

/// Broadcast pulls use the client id as their group (also when the group is empty).
pub(super) fn effective_group(request: &PullRequest) -> &str {
    if request.is_broadcast && request.group.is_empty() {
        &request.consumer_id
    } else {
        &request.group
    }
}

fn has_tag_filter(filters: &[PullFilter]) -> bool {
    filters.iter().any(|f| {
        matches!(f, PullFilter::Tag { tag_type, tags } if *tag_type != TagType::NoTag && !tags.is_empty())
    })
}

fn matches(request: &PullRequest, message: &StoredMessage) -> bool {
    match MessageHeader::decode_payload(&message.payload) {
        Ok((header, _, _)) => request.matches_tags(&header.tags),
        Err(err) => {
            warn!(subject = %request.subject, offset = message.offset, cause = %err, "stored message header undecodable");
            false
        }
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
