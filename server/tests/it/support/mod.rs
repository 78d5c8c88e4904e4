//! Test support: the real `qmq-server` binary on ephemeral ports, and a small client on top of
//! the wire codec.

pub mod client;
pub mod server;
