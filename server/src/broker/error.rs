//! The broker layer's error type.

use std::io;
use std::net::SocketAddr;

use qmq_core::protocol::ProtocolError;

use super::store::StoreError;
use crate::config::ConfigError;

/// Errors of the broker role (above the store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The configuration is invalid.
    #[error("invalid broker configuration")]
    Config(#[source] ConfigError),
    /// The store failed.
    #[error("broker store failed")]
    Store(#[from] StoreError),
    /// A request body or a peer's reply could not be decoded.
    #[error("cannot decode {what}")]
    Protocol {
        /// What was being decoded.
        what: &'static str,
        /// The codec's error.
        #[source]
        source: ProtocolError,
    },
    /// Talking to the meta server failed.
    #[error("{op} failed talking to meta at {addr}")]
    Meta {
        /// What was being done.
        op: &'static str,
        /// The meta server's address.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The meta server answered with a non-success code.
    #[error("meta at {addr} answered {code}")]
    MetaRejected {
        /// The meta server's address.
        addr: SocketAddr,
        /// The response code.
        code: i16,
    },
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed")]
    Task(#[source] tokio::task::JoinError),
}
