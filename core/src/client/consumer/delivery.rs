//! Messages handed to users, and their ack handles.
//!
//! Completion is exactly once by construction: [`AckHandle::ack`], [`AckHandle::ack_error`]
//! and [`AckHandle::ack_result`] consume the handle. A handle dropped without any of them
//! counts as a **failure** — the message is sent back for retry, like an un-acked message in
//! QMQ, which the broker eventually redelivers — so a crashed or forgetful handler never loses
//! a message.
//!
//! A message still buffered inside the consumer when it stops (a [`Pulled`] never handed out)
//! is neither acked nor failed: it stays pulled-but-unacked on the broker, which redelivers it
//! to this consumer id, or to the group's retry subject once the consumer has been silent for
//! a while (spec §6).

use std::fmt;
use std::sync::Arc;

use super::entry::Entry;
use super::filter::{Pipeline, PostState};
use super::options::HandlerError;
use super::send_back::times;
use crate::protocol::Message;

/// A pulled message not yet handed to the user.
pub(crate) struct Pulled {
    entry: Arc<Entry>,
    offset: i64,
    message: Arc<Message>,
}

impl Pulled {
    pub(crate) fn new(entry: Arc<Entry>, offset: i64, message: Arc<Message>) -> Self {
        Self {
            entry,
            offset,
            message,
        }
    }

    pub(crate) fn message(&self) -> &Message {
        &self.message
    }

    /// Hands the message out; `post` is what the pipeline must do when it completes.
    pub(crate) fn into_delivered(
        self,
        post: Option<(Arc<Pipeline>, PostState)>,
    ) -> DeliveredMessage {
        let pre_acked = self.entry.spec.at_most_once;
        DeliveredMessage {
            message: self.message.clone(),
            ack: AckHandle {
                inner: Some(AckInner {
                    entry: self.entry,
                    offset: self.offset,
                    message: self.message,
                    pre_acked,
                    post,
                }),
            },
        }
    }
}

/// A message delivered to the user, with the duty to ack it once: [`DeliveredMessage::ack`],
/// [`DeliveredMessage::ack_error`] or [`DeliveredMessage::ack_result`]. Dropping it unacked
/// fails it (it is retried), as QMQ eventually retries un-acked messages.
pub struct DeliveredMessage {
    message: Arc<Message>,
    ack: AckHandle,
}

impl fmt::Debug for DeliveredMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveredMessage")
            .field("subject", &self.message.header.subject)
            .field("message_id", &self.message.header.message_id)
            .field("pull_offset", &self.pull_offset())
            .finish_non_exhaustive()
    }
}

impl DeliveredMessage {
    /// The message (its subject is the real subject, also for retries).
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The message, shareable beyond the ack.
    pub fn shared_message(&self) -> Arc<Message> {
        self.message.clone()
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.message.header.subject
    }

    /// The message id.
    pub fn message_id(&self) -> &str {
        &self.message.header.message_id
    }

    /// An attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.message.attr(key)
    }

    /// The delivery attempt number (`qmq_times`, 1 for a first delivery).
    pub fn times(&self) -> u32 {
        times(&self.message)
    }

    /// The pull offset on its broker (QMQ's client-side `qmq_pullOffset`).
    pub fn pull_offset(&self) -> i64 {
        self.ack.inner.as_ref().map_or(-1, |i| i.offset)
    }

    /// Acks the message as processed.
    pub fn ack(self) {
        self.ack.ack();
    }

    /// Fails the message: it is sent to the retry subject (dead-letter after the last try).
    pub fn ack_error(self, reason: impl Into<HandlerError>) {
        self.ack.ack_error(reason);
    }

    /// Acks (`Ok`) or fails (`Err`) the message.
    pub fn ack_result(self, result: Result<(), HandlerError>) {
        self.ack.ack_result(result);
    }

    /// Splits the message from its ack handle (for bindings that hand them out separately).
    pub fn into_parts(self) -> (Arc<Message>, AckHandle) {
        (self.message, self.ack)
    }
}

/// The right and duty to complete one delivered message; see the module docs.
pub struct AckHandle {
    inner: Option<AckInner>,
}

struct AckInner {
    entry: Arc<Entry>,
    offset: i64,
    message: Arc<Message>,
    /// At-most-once: acked on receipt; the outcome only feeds the pipeline hooks.
    pre_acked: bool,
    post: Option<(Arc<Pipeline>, PostState)>,
}

impl fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckHandle")
            .field("pull_offset", &self.inner.as_ref().map(|i| i.offset))
            .finish()
    }
}

impl AckHandle {
    /// Acks the message as processed.
    pub fn ack(self) {
        self.ack_result(Ok(()));
    }

    /// Fails the message (retry path).
    pub fn ack_error(self, reason: impl Into<HandlerError>) {
        self.ack_result(Err(reason.into()));
    }

    /// Acks (`Ok`) or fails (`Err`) the message.
    pub fn ack_result(mut self, result: Result<(), HandlerError>) {
        self.finish(result);
    }

    fn finish(&mut self, result: Result<(), HandlerError>) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if let Some((pipeline, state)) = inner.post {
            pipeline.after(&inner.message, state, &result);
        }
        if inner.pre_acked {
            return;
        }
        match result {
            Ok(()) => inner.entry.complete(inner.offset),
            Err(e) => inner.entry.fail(inner.offset, inner.message, e.reason()),
        }
    }
}

impl Drop for AckHandle {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.finish(Err(HandlerError::new("dropped without ack")));
        }
    }
}

/// Runs the pipeline's `before` steps for `pulled` (blocking: call it off the runtime
/// workers). Returns the message if it must be processed; a skipped or failed message is
/// completed here.
pub(crate) fn prepare(pulled: Pulled, pipeline: &Arc<Pipeline>) -> Option<DeliveredMessage> {
    use super::filter::PreOutcome;
    if pipeline.is_empty() {
        return Some(pulled.into_delivered(None));
    }
    match pipeline.before(pulled.message()) {
        PreOutcome::Process(state) => Some(pulled.into_delivered(Some((pipeline.clone(), state)))),
        PreOutcome::Skip(state) => {
            pulled.into_delivered(Some((pipeline.clone(), state))).ack();
            None
        }
        PreOutcome::Fail(state, e) => {
            pulled
                .into_delivered(Some((pipeline.clone(), state)))
                .ack_error(e);
            None
        }
    }
}
