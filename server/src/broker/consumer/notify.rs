//! Wake-ups for long polls: one `Notify` per subject, fired after messages are appended.
//!
//! A waiter must call `Notified::enable` *before* looking for messages; `notify_waiters` then
//! reaches it even if the append lands between the look and the wait, so no wake-up is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// Per-subject notifiers.
#[derive(Debug, Default)]
pub struct SubjectNotifier {
    subjects: Mutex<HashMap<String, Arc<Notify>>>,
}

impl SubjectNotifier {
    /// The notifier of `subject` (created on first use).
    pub fn get(&self, subject: &str) -> Arc<Notify> {
        // The map holds no invariant a panic could break, so a poisoned lock is still usable.
        let mut map = self.subjects.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get(subject) {
            return Arc::clone(n);
        }
        let n = Arc::new(Notify::new());
        map.insert(subject.to_owned(), Arc::clone(&n));
        n
    }

    /// Wakes every long poll parked on `subject`.
    pub fn notify(&self, subject: &str) {
        let map = self.subjects.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get(subject) {
            n.notify_waiters();
        }
    }
}
