//! The hand-over of due messages to brokers, behind a trait so tests can record instead.
//!
//! Invariants worth naming:
//! - A dispatcher gets one subject's batch at a time and answers per message; only a `true`
//!   answer lets the scheduler write the message's sequence to the dispatch log.
//! - An `Err` means "nothing of this batch is known to be delivered": all of it is retried.
//! - Records are passed as stored; a dispatcher sends them unchanged (SEND_MESSAGE version 7).

use std::future::Future;

use bytes::Bytes;

/// One message whose time has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMessage {
    /// Its sequence in the delay store.
    pub sequence: u64,
    /// The producer's delivery time.
    pub schedule_time_ms: i64,
    /// Message id.
    pub message_id: String,
    /// The whole SEND_MESSAGE record, unchanged.
    pub record: Bytes,
}

/// Due messages of one subject, earliest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectBatch {
    /// The subject every message belongs to.
    pub subject: String,
    /// The messages.
    pub messages: Vec<DueMessage>,
}

/// Why a whole batch could not be handed over.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// No broker accepts the subject right now.
    #[error("no broker route for subject {subject}")]
    NoRoute {
        /// The subject.
        subject: String,
    },
    /// The connection to the broker failed.
    #[error("sending subject {subject} to broker {broker} failed")]
    Transport {
        /// The subject.
        subject: String,
        /// Broker address.
        broker: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A request to meta or a broker failed (connect, timeout, lost connection, bad frame).
    #[error("request to {peer} for subject {subject} failed")]
    Client {
        /// The subject.
        subject: String,
        /// Meta or broker address.
        peer: String,
        /// The cause.
        #[source]
        source: qmq_core::client::ClientError,
    },
    /// Meta named a broker whose address cannot be parsed.
    #[error("meta gave subject {subject} an unusable broker address {address:?}")]
    BadBrokerAddress {
        /// The subject.
        subject: String,
        /// The address as meta sent it.
        address: String,
    },
    /// A reply could not be decoded.
    #[error("undecodable {what} from {peer}")]
    Protocol {
        /// Which reply.
        what: &'static str,
        /// Who sent it.
        peer: String,
        /// The cause.
        #[source]
        source: qmq_core::protocol::ProtocolError,
    },
    /// The broker answered with a non-success response code.
    #[error("broker {broker} answered code {code} for subject {subject}")]
    Rejected {
        /// The subject.
        subject: String,
        /// Broker address.
        broker: String,
        /// The response code.
        code: i16,
    },
}

/// Hands due messages to brokers.
pub trait Dispatcher: Send + Sync + 'static {
    /// Sends `batch`, returning for each message (same order) whether a broker stored it. A
    /// shorter answer counts the missing messages as failed.
    ///
    /// # Errors
    /// A [`DispatchError`] when nothing of the batch is known to be stored.
    fn dispatch<'a>(
        &'a self,
        batch: &'a SubjectBatch,
    ) -> impl Future<Output = Result<Vec<bool>, DispatchError>> + Send + 'a;
}
