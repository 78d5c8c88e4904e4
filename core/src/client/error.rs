//! `ClientError`: the error type of the client layer (runtime, meta discovery, connections).
//!
//! Configuration problems have their own `ConfigError` and the
//! idempotence stores theirs (`IdempotenceError`); both
//! convert into `ClientError` so that callers of the client layer handle one type.

use std::io;
use std::time::Duration;

use super::config::ConfigError;
use super::idempotence::IdempotenceError;

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
}

impl ClientError {
    /// Whether trying the same operation again later may succeed (network trouble, timeouts,
    /// a server answering with an error) as opposed to a mistake that will not go away by
    /// itself (bad configuration, misuse of the runtime).
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Config(_)
            | Self::RuntimeBuild { .. }
            | Self::BlockingInAsyncContext { .. }
            | Self::RuntimeShutDown
            | Self::InvalidMetaUrl { .. } => false,
            Self::Idempotence(e) => e.is_retriable(),
            Self::MetaConnect { .. }
            | Self::MetaConnectTimeout { .. }
            | Self::MetaIo { .. }
            | Self::MetaReadTimeout { .. }
            | Self::MetaHttpStatus { .. }
            | Self::MetaHttpMalformed { .. }
            | Self::MetaBadAddress { .. }
            | Self::MetaLocateExhausted { .. } => true,
        }
    }
}
