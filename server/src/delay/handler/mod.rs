//! One handler per delay-server command. The delay server registers only SEND_MESSAGE (spec §1).
//!
//! Invariants: a handler never panics on request bytes; undecodable bodies are answered
//! BROKER_ERROR; blocking store work (appends that may fsync) runs on the blocking pool.

pub mod send_message;
