//! One file per command; each type documents its byte layout and the spec section.
//!
//! HEARTBEAT (100) has an empty body in both directions and needs no type.

pub mod ack;
pub mod broker_acquire_meta;
pub mod broker_register;
pub mod client_register;
pub mod consume_manage;
pub mod pull_message;
pub mod send_message;
