//! The meta role (spec §2): discovery over HTTP, and over TCP client registration, broker
//! registration and broker acquire-meta.
//!
//! Starting the role:
//! 1. [`MetaServer::open`] with a validated [`MetaConfig`] and the data directory (state lives
//!    in `<data_dir>/meta/state.json`);
//! 2. give [`MetaServer::handler`] (a [`MetaHandler`]) to the TCP frame server on `tcp_port`;
//! 3. run [`serve_http`] on a listener bound to `http_port`, announcing
//!    [`advertised_address`];
//! 4. [`MetaServer::spawn_maintenance`] with the shutdown token; it saves once more when the
//!    token is cancelled. [`MetaServer::shutdown`] saves on demand.
//!
//! Invariants: brokers register themselves (no manual step; a heartbeat recreates a forgotten
//! group); a subject's route is assigned once and only grows; a group whose master missed its
//! heartbeats for `broker_heartbeat_timeout_ms` is never routed to; route and broker-state
//! changes reach the disk before the request that caused them is answered.

pub mod config;
pub mod error;
pub mod handler;
pub mod http;
pub mod store;

mod clock;
mod server;

#[cfg(test)]
mod tests;

pub use config::MetaConfig;
pub use error::MetaError;
pub use handler::MetaHandler;
pub use http::{advertised_address, serve_http};
pub use server::MetaServer;
