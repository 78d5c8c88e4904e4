//! `qmq-server`: the meta, broker and delay roles of a QMQ-compatible message queue.
//!
//! Each role lives in its own module (`meta`, `broker`, `delay`, `watchdog`) with `handler/`, `store/` and
//! `config.rs`; [`net`] serves any role over TCP; [`app`] runs roles as a process.
#![deny(unsafe_code)]

pub mod app;
pub mod broker;
pub mod config;
pub mod delay;
pub mod meta;
pub mod net;
pub mod registration;
pub mod watchdog;

pub use app::standalone;
