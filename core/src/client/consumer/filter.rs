//! The per-message pipeline around user processing: consumer filters and the idempotence check.
//!
//! Order for one message:
//! 1. each filter's [`ConsumerFilter::before`] in order; the first `false` stops here and the
//!    message is acked as a success without being processed;
//! 2. with an idempotence store, `mark(subject%group%messageId)`: a duplicate is acked as a
//!    success without being processed; a store error fails the message (it is retried);
//! 3. the handler (listener) or the user (pull API) processes the message;
//! 4. the store is told `complete` (success) or `forget` (failure, so the retry runs);
//! 5. [`ConsumerFilter::after`] of every filter whose `before` ran, in reverse order.
//!
//! Every step calls user code that may block, so the pipeline runs on blocking threads (or on
//! the pull-API caller's thread), never on a runtime worker. A panicking hook is caught: in
//! `before` it fails the message, in `after` it is logged.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use super::options::HandlerError;
use crate::client::idempotence::{IdempotenceKey, IdempotenceStore, MarkOutcome};
use crate::protocol::Message;

/// A hook around message processing (QMQ's `Filter`).
pub trait ConsumerFilter: Send + Sync {
    /// Runs before processing; `false` skips the message, which is then acked as a success.
    fn before(&self, message: &Message) -> bool {
        let _ = message;
        true
    }

    /// Runs after processing (or after a later hook skipped the message, with `Ok`).
    fn after(&self, message: &Message, result: &Result<(), HandlerError>) {
        let _ = (message, result);
    }
}

/// What [`Pipeline::before`] decided.
#[derive(Debug)]
pub(crate) enum PreOutcome {
    /// Process the message, then call [`Pipeline::after`] with this state.
    Process(PostState),
    /// Do not process; ack as a success after [`Pipeline::after`] with `Ok`.
    Skip(PostState),
    /// Do not process; fail the message after [`Pipeline::after`] with the error.
    Fail(PostState, HandlerError),
}

/// What [`Pipeline::after`] must undo or confirm.
#[derive(Debug, Default)]
pub(crate) struct PostState {
    /// Filters whose `before` ran.
    ran: usize,
    /// The idempotence key marked for this message.
    key: Option<IdempotenceKey>,
}

/// Filters plus idempotence store of one subscription.
pub(crate) struct Pipeline {
    subject: String,
    group: String,
    filters: Vec<Arc<dyn ConsumerFilter>>,
    idempotence: Option<Arc<dyn IdempotenceStore>>,
}

impl Pipeline {
    pub(crate) fn new(
        subject: &str,
        group: &str,
        filters: Vec<Arc<dyn ConsumerFilter>>,
        idempotence: Option<Arc<dyn IdempotenceStore>>,
    ) -> Self {
        Self {
            subject: subject.to_owned(),
            group: group.to_owned(),
            filters,
            idempotence,
        }
    }

    /// Whether there is nothing to run (the pull API then skips the blocking hop).
    pub(crate) fn is_empty(&self) -> bool {
        self.filters.is_empty() && self.idempotence.is_none()
    }

    /// Steps 1 and 2.
    pub(crate) fn before(&self, message: &Message) -> PreOutcome {
        let mut state = PostState::default();
        for filter in &self.filters {
            match catch_unwind(AssertUnwindSafe(|| filter.before(message))) {
                Ok(true) => state.ran += 1,
                Ok(false) => {
                    state.ran += 1;
                    return PreOutcome::Skip(state);
                }
                Err(_) => {
                    return PreOutcome::Fail(state, HandlerError::new("consumer filter panicked"));
                }
            }
        }
        let Some(store) = &self.idempotence else {
            return PreOutcome::Process(state);
        };
        let key = IdempotenceKey::new(&self.subject, &self.group, &message.header.message_id);
        match store.mark(&key) {
            Ok(MarkOutcome::FirstTime) => {
                state.key = Some(key);
                PreOutcome::Process(state)
            }
            Ok(MarkOutcome::Duplicate) => PreOutcome::Skip(state),
            Err(e) => {
                tracing::warn!(subject = self.subject, group = self.group, error = %e, "idempotence mark failed");
                PreOutcome::Fail(state, HandlerError::new(format!("idempotence store: {e}")))
            }
        }
    }

    /// Steps 4 and 5.
    pub(crate) fn after(
        &self,
        message: &Message,
        state: PostState,
        result: &Result<(), HandlerError>,
    ) {
        if let (Some(store), Some(key)) = (&self.idempotence, &state.key) {
            let done = match result {
                Ok(()) => store.complete(key),
                Err(_) => store.forget(key),
            };
            if let Err(e) = done {
                tracing::warn!(subject = self.subject, group = self.group, error = %e, "idempotence update failed");
            }
        }
        for filter in self.filters[..state.ran.min(self.filters.len())]
            .iter()
            .rev()
        {
            if catch_unwind(AssertUnwindSafe(|| filter.after(message, result))).is_err() {
                tracing::warn!(
                    subject = self.subject,
                    group = self.group,
                    "consumer filter panicked in after"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::idempotence::{MemoryStore, MemoryStoreConfig};
    use std::sync::Mutex;

    struct Recorder {
        name: &'static str,
        pass: bool,
        log: Arc<Mutex<Vec<String>>>,
    }

    impl ConsumerFilter for Recorder {
        fn before(&self, _: &Message) -> bool {
            self.log
                .lock()
                .unwrap()
                .push(format!("before {}", self.name));
            self.pass
        }
        fn after(&self, _: &Message, result: &Result<(), HandlerError>) {
            self.log
                .lock()
                .unwrap()
                .push(format!("after {} {}", self.name, result.is_ok()));
        }
    }

    fn filters(log: &Arc<Mutex<Vec<String>>>, pass: [bool; 3]) -> Vec<Arc<dyn ConsumerFilter>> {
        ["a", "b", "c"]
            .into_iter()
            .zip(pass)
            .map(|(name, pass)| {
                Arc::new(Recorder {
                    name,
                    pass,
                    log: log.clone(),
                }) as Arc<dyn ConsumerFilter>
            })
            .collect()
    }

    fn message(id: &str) -> Message {
        let mut m = Message::default();
        m.header.subject = "s".into();
        m.header.message_id = id.into();
        m
    }

    #[test]
    fn befores_run_in_order_and_afters_in_reverse() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let p = Pipeline::new("s", "g", filters(&log, [true; 3]), None);
        let m = message("1");
        let PreOutcome::Process(state) = p.before(&m) else {
            panic!("should process")
        };
        p.after(&m, state, &Err(HandlerError::new("x")));
        assert_eq!(
            *log.lock().unwrap(),
            [
                "before a",
                "before b",
                "before c",
                "after c false",
                "after b false",
                "after a false"
            ]
        );
    }

    #[test]
    fn a_false_before_skips_and_stops_the_chain() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let p = Pipeline::new("s", "g", filters(&log, [true, false, true]), None);
        let m = message("1");
        let PreOutcome::Skip(state) = p.before(&m) else {
            panic!("should skip")
        };
        p.after(&m, state, &Ok(()));
        assert_eq!(
            *log.lock().unwrap(),
            ["before a", "before b", "after b true", "after a true"]
        );
    }

    #[test]
    fn idempotence_skips_duplicates_and_forgets_failures() {
        let store: Arc<dyn IdempotenceStore> =
            Arc::new(MemoryStore::new(MemoryStoreConfig::default()).unwrap());
        let p = Pipeline::new("s", "g", Vec::new(), Some(store));
        let m = message("id-1");
        let PreOutcome::Process(state) = p.before(&m) else {
            panic!("first time")
        };
        assert!(
            matches!(p.before(&m), PreOutcome::Skip(_)),
            "in progress = duplicate"
        );
        p.after(&m, state, &Err(HandlerError::new("boom")));
        let PreOutcome::Process(state) = p.before(&m) else {
            panic!("forgotten after failure")
        };
        p.after(&m, state, &Ok(()));
        assert!(matches!(p.before(&m), PreOutcome::Skip(_)));
        assert!(matches!(p.before(&message("id-2")), PreOutcome::Process(_)));
    }

    #[test]
    fn a_panicking_before_fails_the_message() {
        struct Bomb;
        impl ConsumerFilter for Bomb {
            fn before(&self, _: &Message) -> bool {
                panic!("bomb")
            }
        }
        let p = Pipeline::new("s", "g", vec![Arc::new(Bomb)], None);
        assert!(matches!(p.before(&message("1")), PreOutcome::Fail(..)));
    }
}
