//! Consumer-side semantics of the broker: PULL (redelivery of lost pulls, new messages from the
//! group's cursor, tag filters, retry hold-back, broadcast, long polling), ACK (ranges, gaps to the
//! retry subject) and group resets.
//!
//! Invariants worth naming:
//! - requests of one (subject, group) are serialised by a per-group lock, held only inside
//!   synchronous code (never across an `.await`);
//! - a batch is recorded in the action log (PULL) before it is returned, so a restart re-sends
//!   rather than loses it;
//! - gap messages are appended to `%RETRY%<subject>%<group>` before the range is acked, so a crash
//!   in between duplicates rather than loses them;
//! - a new group starts after the newest message (QMQ); a retry subject is group-private, so a
//!   new group starts at its oldest retained message instead (deviation from Java, which could
//!   skip retries queued before the group's first retry pull).

mod ack;
mod notify;
mod pull;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use qmq_core::protocol::names::{self, SubjectKind};

pub use ack::{AckOutcome, AckRejection};
pub use notify::SubjectNotifier;

use super::store::{Store, StoreError, validate_name};

/// Largest `requestNum` honoured; larger requests are clamped (QMQ).
pub const MAX_PULL_BATCH: usize = 10_000;

/// Messages handed out by one pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullBatch {
    /// Pull offset of the first message (message *i* has `first_pull_offset + i`); for
    /// broadcast pulls, the consume-log sequence of the first message.
    pub first_pull_offset: i64,
    /// The stored payloads (SEND records without their CRC), in order.
    pub payloads: Vec<Bytes>,
}

/// Serialises the requests of one (subject, group).
type GroupLock = Arc<Mutex<()>>;

/// Consumer progress logic over a [`Store`].
#[derive(Debug)]
pub struct ConsumerManager {
    store: Arc<Store>,
    retry_delay: Duration,
    groups: Mutex<HashMap<(String, String), GroupLock>>,
    notifier: SubjectNotifier,
}

impl ConsumerManager {
    /// A manager over `store`; retry subjects hold messages back for `retry_delay`.
    pub fn new(store: Arc<Store>, retry_delay: Duration) -> Self {
        ConsumerManager {
            store,
            retry_delay,
            groups: Mutex::new(HashMap::new()),
            notifier: SubjectNotifier::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Wakes long polls waiting on `subject`; call after appending to it.
    pub fn notify(&self, subject: &str) {
        self.notifier.notify(subject);
    }

    fn group_lock(&self, subject: &str, group: &str) -> GroupLock {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            groups
                .entry((subject.to_owned(), group.to_owned()))
                .or_default(),
        )
    }

    /// The cursor a group starts from when it first shows up on `subject`.
    fn initial_cursor(&self, subject: &str) -> Result<i64, StoreError> {
        if names::parse_subject(subject).0 == SubjectKind::Real {
            self.store.max_sequence(subject)
        } else {
            Ok(self.store.min_sequence(subject)? - 1)
        }
    }
}

/// Whether a subject, group or consumer id is acceptable (QMQ's rule plus the store's
/// path-component rule).
pub fn is_valid_name(name: &str) -> bool {
    names::is_valid_name(name) && validate_name("name", name).is_ok()
}

fn hold(lock: &Mutex<()>) -> MutexGuard<'_, ()> {
    // The guarded value is `()`: a panic elsewhere cannot leave it inconsistent.
    lock.lock().unwrap_or_else(PoisonError::into_inner)
}
