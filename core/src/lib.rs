//! `qmq-core`: the QMQ client core shared by every language binding.
//!
//! Module `protocol` is the sans-IO wire codec used by both the client and the server.
//! Module `client` is the client: runtime, configuration, ids, meta discovery, breaker, retry
//! backoff and idempotence stores.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod protocol;
