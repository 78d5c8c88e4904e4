//! `ClientError`: the error type of the client layer (runtime, meta discovery, connections).
//!
//! Configuration problems have their own `ConfigError` and the
//! idempotence stores theirs (`IdempotenceError`); both
//! convert into `ClientError` so that callers of the client layer handle one type.

use std::io;
use std::time::Duration;

use super::config::ConfigError;
use super::connection::ConnectionLostCause;
use super::idempotence::IdempotenceError;
use crate::protocol::{ClientType, ProtocolError};

/// Errors of the client layer.
///
/// [`ClientError::is_retriable`] tells whether the same operation may succeed when tried again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// An idempotence store failed.
    #[error(transparent)]
    Idempotence(#[from] IdempotenceError),

    /// The tokio runtime could not be built.
    #[error("cannot build the qmq-core runtime")]
    RuntimeBuild {
        /// The cause reported by tokio.
        #[source]
        source: io::Error,
    },

    /// A blocking operation was called from inside an async runtime, where it would panic or
    /// deadlock; call it from a plain thread (or `spawn_blocking` of *another* runtime).
    #[error("{op} must not be called from inside an async runtime")]
    BlockingInAsyncContext {
        /// The operation that was refused.
        op: &'static str,
    },

    /// The runtime was shut down; no more work can be spawned on it.
    #[error("the qmq-core runtime is shut down")]
    RuntimeShutDown,

    /// The meta locator URL is not a usable `http://host[:port]/path` URL.
    #[error("invalid meta url {url:?}: {reason}")]
    InvalidMetaUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// TCP connect to the meta HTTP endpoint failed.
    #[error("cannot connect to meta locator {addr}")]
    MetaConnect {
        /// `host:port` of the locator.
        addr: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// TCP connect to the meta HTTP endpoint did not finish in time.
    #[error("connecting to meta locator {addr} timed out after {timeout:?}")]
    MetaConnectTimeout {
        /// `host:port` of the locator.
        addr: String,
        /// The connect timeout in force.
        timeout: Duration,
    },

    /// Writing the request or reading the response failed.
    #[error("I/O error talking to meta locator {addr}")]
    MetaIo {
        /// `host:port` of the locator.
        addr: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// The locator did not answer in time: a read waited longer than the read timeout, or the
    /// whole exchange took longer than the total timeout.
    #[error("meta locator {addr} did not answer within {timeout:?}")]
    MetaReadTimeout {
        /// `host:port` of the locator.
        addr: String,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// The locator answered with a status other than 200.
    #[error("meta locator {url} answered HTTP {status}")]
    MetaHttpStatus {
        /// The URL queried.
        url: String,
        /// The HTTP status code.
        status: u16,
    },

    /// The locator's answer is not a well-formed HTTP/1.x response.
    #[error("meta locator {url} sent a malformed HTTP response: {reason}")]
    MetaHttpMalformed {
        /// The URL queried.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The locator's body is not a `host:port` address.
    #[error("meta locator {url} returned {body:?}, not host:port")]
    MetaBadAddress {
        /// The URL queried.
        url: String,
        /// The trimmed body (at most 200 characters of it).
        body: String,
        /// Why it was rejected.
        #[source]
        source: super::address::HostPortError,
    },

    /// Every attempt to query the locator failed; `source` is the last failure.
    #[error("meta locator {url} failed {attempts} times")]
    MetaLocateExhausted {
        /// The URL queried.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        source: Box<ClientError>,
    },

    /// TCP connect to a broker or meta server failed.
    #[error("cannot connect to {addr}")]
    Connect {
        /// `host:port` of the server.
        addr: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },

    /// TCP connect to a broker or meta server did not finish in time.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    ConnectTimeout {
        /// `host:port` of the server.
        addr: String,
        /// The connect timeout in force.
        timeout: Duration,
    },

    /// The connection broke while the request was outstanding (or before it could be sent).
    /// The request may or may not have reached the server.
    #[error("connection to {addr} lost")]
    ConnectionLost {
        /// `host:port` of the server.
        addr: String,
        /// Why the connection ended.
        #[source]
        cause: ConnectionLostCause,
    },

    /// The connection was closed by [`Connection::close`](super::connection::Connection::close)
    /// or dropped; it accepts no more requests.
    #[error("connection to {addr} is closed")]
    ConnectionClosed {
        /// `host:port` of the server.
        addr: String,
    },

    /// No response arrived in time. The request may or may not have been processed.
    #[error("request {code} (opaque {opaque}) to {addr} timed out after {timeout:?}")]
    RequestTimeout {
        /// `host:port` of the server.
        addr: String,
        /// The request code.
        code: i16,
        /// The request's opaque.
        opaque: i32,
        /// The timeout in force.
        timeout: Duration,
    },

    /// A frame could not be encoded or a response body could not be decoded.
    #[error("protocol error with {addr} in {what}")]
    Protocol {
        /// `host:port` of the server.
        addr: String,
        /// What was being encoded or decoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: ProtocolError,
    },

    /// The server answered with a response code other than the expected one.
    #[error("{addr} answered request {request} with response code {code}")]
    ServerResponse {
        /// `host:port` of the server.
        addr: String,
        /// The request code.
        request: i16,
        /// The response code.
        code: i16,
    },

    /// The meta server refused the registration (timestamp −2: invalid subject or a server
    /// failure).
    #[error("meta server rejected {client_type:?} registration for subject {subject:?}")]
    MetaRejected {
        /// The subject registered.
        subject: String,
        /// The client type registered.
        client_type: ClientType,
    },

    /// Meta knows no usable broker group for the subject (yet).
    #[error("no broker group serves {client_type:?} for subject {subject:?}")]
    NoRoute {
        /// The subject.
        subject: String,
        /// The client type asking.
        client_type: ClientType,
    },

    /// The producer's queue holds `capacity` messages already (queued or in flight); the
    /// message was not accepted. Retry later, or use a back-pressure send that waits.
    #[error("producer queue is full ({capacity} messages pending)")]
    QueueFull {
        /// The configured `producer.queue_capacity`.
        capacity: usize,
    },

    /// The producer (or its client) is closed or closing; the message was not delivered.
    #[error("the producer is closed")]
    ProducerClosed,

    /// A message property or tag was rejected when the message was built.
    #[error("invalid message: {reason}")]
    InvalidMessage {
        /// What is wrong, naming the key or tag.
        reason: String,
    },

    /// A property value is longer than one wire string allows.
    #[error(
        "value of property {key:?} is {len} bytes, more than {max}; use set_large_string for large values"
    )]
    PropertyTooLong {
        /// The property key.
        key: String,
        /// The value's UTF-8 length.
        len: usize,
        /// The limit (32767 bytes).
        max: usize,
    },

    /// The key is reserved for QMQ itself (spec §7).
    #[error("property key {key:?} is reserved by QMQ")]
    ReservedProperty {
        /// The rejected key.
        key: String,
    },

    /// A delay time cannot be represented (before 1970 or beyond the epoch-millisecond range).
    #[error("invalid delivery time: {reason}")]
    InvalidScheduleTime {
        /// Why the time was rejected.
        reason: &'static str,
    },

    /// The broker refused the message for good (BROKER_BUSY, BLOCK): it is not resent.
    #[error("broker group {broker_group} refused message {message_id} with code {code}: {remark}")]
    SendRejected {
        /// The message id.
        message_id: String,
        /// The broker group that answered.
        broker_group: String,
        /// The `MessageProducerCode` value.
        code: i32,
        /// The broker's remark.
        remark: String,
    },

    /// Every allowed attempt to send the message failed; `source` is the last failure.
    #[error("message {message_id} not sent after {attempts} attempts")]
    SendExhausted {
        /// The message id.
        message_id: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error (shared by the messages of one batch).
        #[source]
        source: std::sync::Arc<ClientError>,
    },

    /// A broker answered a message with a code that asks for a resend; seen as the `source` of
    /// [`ClientError::SendExhausted`].
    #[error("broker group {broker_group} answered code {code}: {remark}")]
    SendFailedCode {
        /// The broker group that answered.
        broker_group: String,
        /// The `MessageProducerCode` value.
        code: i32,
        /// The broker's remark.
        remark: String,
    },

    /// No broker group of the route can be used now (all read-only, rejected or with an open
    /// circuit breaker).
    #[error("no available broker group for {client_type:?} subject {subject:?}")]
    NoAvailableBroker {
        /// The subject.
        subject: String,
        /// The client type.
        client_type: ClientType,
    },

    /// Meta announced a broker address that is not `host:port`.
    #[error("broker group {group} has an invalid address {addr:?}")]
    BadBrokerAddress {
        /// The broker group.
        group: String,
        /// The address as announced.
        addr: String,
        /// Why it was rejected.
        #[source]
        source: super::address::HostPortError,
    },

    /// `flush` or `close` reached its deadline with messages still pending.
    #[error("{pending} messages still pending after {deadline:?}")]
    FlushTimeout {
        /// Messages not yet completed.
        pending: usize,
        /// The deadline that expired.
        deadline: Duration,
    },

    /// A subject or group name is not acceptable on the wire.
    #[error("invalid {what} {name:?}: must be non-empty, without '/' or whitespace")]
    InvalidName {
        /// `subject` or `group`.
        what: &'static str,
        /// The rejected name.
        name: String,
    },

    /// A broker refused to store a failed message's retry copy.
    #[error("{addr} refused the retry copy of message {message_id:?}: code {code} ({remark})")]
    SendBackRejected {
        /// `host:port` of the broker.
        addr: String,
        /// The message id.
        message_id: String,
        /// The `MessageProducerCode` returned.
        code: i32,
        /// The broker's remark.
        remark: String,
    },

    /// The consumer (pull consumer or subscription) was stopped; it delivers no more messages.
    #[error("consumer of subject {subject:?}, group {group:?} is stopped")]
    ConsumerStopped {
        /// The subject.
        subject: String,
        /// The consumer group.
        group: String,
    },
}

/// The broad class of a [`ClientError`], shared by every host binding so that each language
/// raises the same error class for the same failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCategory {
    /// The producer, consumer or runtime is closed.
    Closed,
    /// The producer's queue is full.
    QueueFull,
    /// The caller passed something invalid.
    InvalidArgument,
    /// A send failed.
    Send,
    /// Anything else.
    Other,
}

impl ErrorCategory {
    /// The name of the error class the host packages expose for this category.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Closed => "ClosedError",
            Self::QueueFull => "QueueFullError",
            Self::InvalidArgument => "InvalidArgumentError",
            Self::Send => "SendError",
            Self::Other => "QmqError",
        }
    }
}

impl ClientError {
    /// The broad class of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::ProducerClosed | Self::RuntimeShutDown | Self::ConsumerStopped { .. } => {
                ErrorCategory::Closed
            }
            Self::QueueFull { .. } => ErrorCategory::QueueFull,
            Self::Config(_)
            | Self::InvalidName { .. }
            | Self::InvalidMessage { .. }
            | Self::PropertyTooLong { .. }
            | Self::ReservedProperty { .. }
            | Self::InvalidScheduleTime { .. }
            | Self::InvalidMetaUrl { .. } => ErrorCategory::InvalidArgument,
            Self::SendRejected { .. }
            | Self::SendExhausted { .. }
            | Self::SendFailedCode { .. }
            | Self::NoRoute { .. }
            | Self::NoAvailableBroker { .. } => ErrorCategory::Send,
            _ => ErrorCategory::Other,
        }
    }

    /// The variant's name (`"QueueFull"`), taken from its `Debug` form.
    pub fn kind(&self) -> String {
        format!("{self:?}")
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .next()
            .unwrap_or("Unknown")
            .to_owned()
    }

    /// The message followed by its chain of causes, `": "`-separated.
    pub fn describe(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    /// Whether trying the same operation again later may succeed (network trouble, timeouts,
    /// a server answering with an error) as opposed to a mistake that will not go away by
    /// itself (bad configuration, misuse of the runtime).
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Config(_)
            | Self::RuntimeBuild { .. }
            | Self::BlockingInAsyncContext { .. }
            | Self::RuntimeShutDown
            | Self::InvalidMetaUrl { .. }
            | Self::ConnectionClosed { .. }
            | Self::MetaRejected { .. }
            | Self::InvalidName { .. }
            | Self::ConsumerStopped { .. }
            | Self::ProducerClosed
            | Self::InvalidMessage { .. }
            | Self::PropertyTooLong { .. }
            | Self::ReservedProperty { .. }
            | Self::InvalidScheduleTime { .. }
            | Self::SendRejected { .. }
            | Self::SendExhausted { .. } => false,
            Self::Idempotence(e) => e.is_retriable(),
            Self::MetaConnect { .. }
            | Self::MetaConnectTimeout { .. }
            | Self::MetaIo { .. }
            | Self::MetaReadTimeout { .. }
            | Self::MetaHttpStatus { .. }
            | Self::MetaHttpMalformed { .. }
            | Self::MetaBadAddress { .. }
            | Self::MetaLocateExhausted { .. }
            | Self::Connect { .. }
            | Self::ConnectTimeout { .. }
            | Self::ConnectionLost { .. }
            | Self::RequestTimeout { .. }
            | Self::Protocol { .. }
            | Self::ServerResponse { .. }
            | Self::NoRoute { .. }
            | Self::SendBackRejected { .. }
            | Self::QueueFull { .. }
            | Self::SendFailedCode { .. }
            | Self::NoAvailableBroker { .. }
            | Self::BadBrokerAddress { .. }
            | Self::FlushTimeout { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_kind_and_description_for_hosts() {
        let full = ClientError::QueueFull { capacity: 3 };
        assert_eq!(full.category(), ErrorCategory::QueueFull);
        assert_eq!(full.category().class_name(), "QueueFullError");
        assert_eq!(full.kind(), "QueueFull");
        assert_eq!(
            ClientError::ProducerClosed.category().class_name(),
            "ClosedError"
        );
        assert_eq!(ClientError::ProducerClosed.kind(), "ProducerClosed");
        assert_eq!(full.describe(), full.to_string());
    }
}
