//! The broker layer's error type.

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
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed")]
    Task(#[source] tokio::task::JoinError),
}
