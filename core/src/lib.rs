//! `qmq-core`: the QMQ client core shared by every language binding.
//!
//! Module `protocol` is the sans-IO wire codec used by both the client and the server.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod protocol;
