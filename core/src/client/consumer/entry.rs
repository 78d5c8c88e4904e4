//! One pull entry: a (broker group, pulled subject, consumer group) with its long-poll PULL loop,
//! its ack bookkeeping and its send-back worker (spec §4–§6).
//!
//! The pulled subject is the real subject or `%RETRY%<subject>%<group>`; both are pulled from
//! every readable broker group, except for broadcast (no retry subject).
//!
//! Invariants:
//! * the pull loop never holds more than `max(10 × batch, 100)` unacked messages: it waits for
//!   acks before pulling more (QMQ skips pulls while acks are unsent);
//! * delivered messages carry the *real* subject, whatever the pulled subject was;
//! * messages for another group (`qmq_consumerGroupName` set and different) are completed
//!   without delivery; with at-most-once every message is completed on receipt and
//!   redeliveries (`qmq_times > 1`) are not delivered;
//! * a failed message is completed only after its retry copy was stored (send-back worker).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ConsumerShared;
use super::ack_tracker::AckTracker;
use super::delivery::Pulled;
use super::send_back::{RetryTarget, build_retry_copy, times};
use super::subscriber::Spec;
use crate::client::address::HostPort;
use crate::client::meta_client::MetaClient;
use crate::protocol::frame::VERSION_9;
use crate::protocol::names::attr;
use crate::protocol::{
    ClientType, Message, PullMessageResponse, PullRequest, RequestCode, ResponseCode,
};

/// Extra time a PULL may take beyond its long-poll time (QMQ: 8 s of network allowance).
const PULL_NETWORK_ALLOWANCE: Duration = Duration::from_secs(8);

/// A failed message waiting for its retry copy to be stored.
pub(crate) struct SendBackJob {
    offset: i64,
    message: Arc<Message>,
}

/// State shared by an entry's tasks and the ack handles of its messages.
pub(crate) struct Entry {
    pub(crate) spec: Arc<Spec>,
    pub(crate) broker_group: String,
    pub(crate) pulled_subject: String,
    tracker: Mutex<AckTracker>,
    /// Wakes the ack sender: something was completed.
    pub(crate) ack_wake: Notify,
    /// Wakes a pull loop waiting for acks.
    pub(crate) progress: Notify,
    send_back_tx: mpsc::UnboundedSender<SendBackJob>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("broker_group", &self.broker_group)
            .field("pulled_subject", &self.pulled_subject)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// A new entry and the receiver its send-back worker reads.
    pub(crate) fn new(
        spec: Arc<Spec>,
        broker_group: &str,
        pulled_subject: &str,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<SendBackJob>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let entry = Arc::new(Self {
            spec,
            broker_group: broker_group.to_owned(),
            pulled_subject: pulled_subject.to_owned(),
            tracker: Mutex::new(AckTracker::default()),
            ack_wake: Notify::new(),
            progress: Notify::new(),
            send_back_tx: tx,
        });
        (entry, rx)
    }

    pub(crate) fn tracker(&self) -> MutexGuard<'_, AckTracker> {
        // Nothing panics under this lock; recover from poison rather than propagate it.
        self.tracker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The message at `offset` is done (processed, skipped, or its retry copy stored).
    pub(crate) fn complete(&self, offset: i64) {
        if self.tracker().complete(offset) {
            self.ack_wake.notify_one();
        }
    }

    /// The message at `offset` failed: send a retry copy, then complete it. Broadcast and
    /// at-most-once consumers do not retry; the message is just completed.
    pub(crate) fn fail(&self, offset: i64, message: Arc<Message>, reason: &str) {
        if self.spec.broadcast || self.spec.at_most_once {
            tracing::warn!(
                subject = self.spec.real_subject,
                group = self.spec.group,
                offset,
                reason,
                "message failed, not retried (broadcast or at-most-once)"
            );
            self.complete(offset);
            return;
        }
        tracing::debug!(
            subject = self.spec.real_subject,
            group = self.spec.group,
            offset,
            reason,
            "message failed, sending back for retry"
        );
        // After the entry stopped nobody sends it back; the broker redelivers it later.
        let _ = self.send_back_tx.send(SendBackJob { offset, message });
    }

    /// The master address of this entry's broker group, from the cached consumer route.
    pub(crate) fn broker_addr(&self, meta: &MetaClient) -> Option<HostPort> {
        let route = meta.cached_route(ClientType::Consumer, &self.pulled_subject)?;
        let group = route
            .broker_groups
            .iter()
            .find(|g| g.group_name == self.broker_group)?;
        group.master.parse().ok()
    }
}

/// The long-poll PULL loop; ends when `stop` fires or the message sink is closed.
pub(crate) async fn run_pull(
    entry: Arc<Entry>,
    shared: Arc<ConsumerShared>,
    sink: mpsc::Sender<Pulled>,
    stop: CancellationToken,
) {
    let cfg = &shared.config.consumer;
    let batch = cfg.pull_batch_size;
    let max_unacked = (batch as usize).saturating_mul(10).max(100);
    let timeout = cfg.pull_timeout + PULL_NETWORK_ALLOWANCE;
    let mut failures = 0u32;
    loop {
        if stop.is_cancelled() || sink.is_closed() {
            return;
        }
        if entry.tracker().unacked() >= max_unacked {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = entry.progress.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            continue;
        }
        let Some(addr) = entry.broker_addr(&shared.meta) else {
            tracing::debug!(
                subject = entry.pulled_subject,
                broker = entry.broker_group,
                "no address for broker group yet"
            );
            if sleep_or_stop(&stop, Duration::from_secs(1)).await {
                return;
            }
            continue;
        };
        let (begin, last) = entry.tracker().pull_offsets();
        let request = PullRequest {
            subject: entry.pulled_subject.clone(),
            group: entry.spec.group.clone(),
            consumer_id: entry.spec.consumer_id.clone(),
            request_num: batch.min(i32::MAX as u32) as i32,
            offset: -1,
            pull_offset_begin: begin,
            pull_offset_last: last,
            timeout_millis: cfg.pull_timeout.as_millis().min(i64::MAX as u128) as i64,
            is_broadcast: entry.spec.broadcast,
            filters: entry.spec.pull_filters.clone(),
        };
        let mut body = BytesMut::with_capacity(request.encoded_len(VERSION_9));
        request.encode(VERSION_9, &mut body);
        let conn = shared.connections.get(&addr);
        let started = Instant::now();
        let result = tokio::select! {
            _ = stop.cancelled() => return,
            r = conn.request_with_timeout(RequestCode::PullMessage, VERSION_9, body.freeze(), timeout) => r,
        };
        let frame = match result {
            Ok(frame) => frame,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(subject = entry.pulled_subject, broker = %addr, error = %e, "pull failed");
                if sleep_or_stop(&stop, backoff(failures)).await {
                    return;
                }
                continue;
            }
        };
        if frame.header.code == ResponseCode::NoMessage.as_i16() {
            failures = 0;
            // A broker answering at once (everything filtered, bad parameters) must not make
            // this loop spin.
            if started.elapsed() < Duration::from_millis(20)
                && sleep_or_stop(&stop, Duration::from_millis(50)).await
            {
                return;
            }
            continue;
        }
        if frame.header.code != ResponseCode::Success.as_i16() {
            failures = failures.saturating_add(1);
            tracing::warn!(subject = entry.pulled_subject, broker = %addr, code = frame.header.code, "pull answered with an error code");
            if sleep_or_stop(&stop, backoff(failures)).await {
                return;
            }
            continue;
        }
        let response = match PullMessageResponse::decode(&frame.body) {
            Ok((response, _)) => response,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(subject = entry.pulled_subject, broker = %addr, error = %e, "undecodable pull response");
                if sleep_or_stop(&stop, backoff(failures)).await {
                    return;
                }
                continue;
            }
        };
        failures = 0;
        if !deliver(&entry, response, &sink, &stop).await {
            return;
        }
    }
}

/// Hands a batch to the sink; `false` if the loop must end.
async fn deliver(
    entry: &Arc<Entry>,
    response: PullMessageResponse,
    sink: &mpsc::Sender<Pulled>,
    stop: &CancellationToken,
) -> bool {
    let first = response.pull_log_offset;
    let fresh = entry.tracker().on_pulled(first, response.messages.len());
    let spec = &entry.spec;
    for (i, mut message) in response.messages.into_iter().enumerate() {
        if !fresh.contains(&i) {
            continue;
        }
        let offset = first + i as i64;
        message.header.subject.clone_from(&spec.real_subject);
        let keep = should_deliver(spec, &message);
        // At-most-once: acked on receipt, before processing.
        if spec.at_most_once || !keep {
            entry.complete(offset);
        }
        if !keep {
            continue;
        }
        let pulled = Pulled::new(entry.clone(), offset, Arc::new(message));
        let sent = tokio::select! {
            _ = stop.cancelled() => false,
            r = sink.send(pulled) => r.is_ok(),
        };
        if !sent {
            return false;
        }
    }
    true
}

/// Whether a received message goes to the user; otherwise it is completed (acked) unseen:
/// a message for another group (`qmq_consumerGroupName` set and different, spec §6), or a
/// redelivery (`qmq_times > 1`) for an at-most-once consumer.
pub(crate) fn should_deliver(spec: &Spec, message: &Message) -> bool {
    let other_group = message
        .attr(attr::CONSUMER_GROUP_NAME)
        .is_some_and(|g| !g.is_empty() && g != spec.user_group);
    let dropped_redelivery = spec.at_most_once && times(message) > 1;
    !(other_group || dropped_redelivery)
}

/// Sends back failed messages one by one, then completes them.
pub(crate) async fn run_send_back(
    entry: Arc<Entry>,
    shared: Arc<ConsumerShared>,
    mut jobs: mpsc::UnboundedReceiver<SendBackJob>,
    stop: CancellationToken,
) {
    loop {
        let job = tokio::select! {
            _ = stop.cancelled() => return,
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        let spec = &entry.spec;
        let (copy, target) = build_retry_copy(
            &job.message,
            &spec.real_subject,
            &spec.group,
            spec.max_retry,
            chrono::Utc::now().timestamp_millis(),
        );
        if !shared
            .send_back
            .send(&copy, &spec.real_subject, &stop)
            .await
        {
            return;
        }
        if target == RetryTarget::Dead {
            tracing::warn!(
                subject = spec.real_subject,
                group = spec.group,
                message_id = copy.header.message_id,
                "message moved to the dead-letter subject"
            );
        }
        entry.complete(job.offset);
    }
}

fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << failures.min(6));
    Duration::from_millis(ms.min(5_000))
}

/// Sleeps `d`; `true` if `stop` fired first.
pub(crate) async fn sleep_or_stop(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = stop.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(at_most_once: bool) -> Spec {
        Spec {
            real_subject: "s".into(),
            user_group: "g".into(),
            group: "g".into(),
            consumer_id: "c".into(),
            broadcast: false,
            at_most_once,
            max_retry: 32,
            pull_filters: Vec::new(),
        }
    }

    fn message(attrs: &[(&str, &str)]) -> Message {
        let mut m = Message::default();
        for (k, v) in attrs {
            m.set_attr(*k, *v);
        }
        m
    }

    #[test]
    fn at_most_once_drops_redeliveries_only() {
        let s = spec(true);
        assert!(should_deliver(&s, &message(&[])));
        assert!(should_deliver(&s, &message(&[(attr::TIMES, "1")])));
        assert!(!should_deliver(&s, &message(&[(attr::TIMES, "2")])));
        assert!(should_deliver(
            &spec(false),
            &message(&[(attr::TIMES, "2")])
        ));
    }

    #[test]
    fn messages_for_another_group_are_dropped() {
        let s = spec(false);
        assert!(!should_deliver(
            &s,
            &message(&[(attr::CONSUMER_GROUP_NAME, "other")])
        ));
        assert!(should_deliver(
            &s,
            &message(&[(attr::CONSUMER_GROUP_NAME, "g")])
        ));
        assert!(should_deliver(
            &s,
            &message(&[(attr::CONSUMER_GROUP_NAME, "")])
        ));
    }

    #[test]
    fn pull_backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert!(backoff(3) > backoff(2));
        assert_eq!(backoff(50), Duration::from_secs(5));
    }
}
