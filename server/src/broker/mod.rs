//! The broker role: the real-time message store and, on top of it, SEND / PULL / ACK /
//! CONSUME_MANAGE, long polling, tag filters, retry subjects, broadcast, and registration with
//! meta.
//!
//! - [`store`] owns every file under the broker's data directory; nothing else touches the disk.
//! - [`consumer`] holds the consumer semantics (spec §4–§6) over the store.
//! - [`handler`] has one file per command; [`Broker`] dispatches to them as a
//!   [`crate::net::FrameHandler`].
//! - [`crate::registration`] keeps the broker registered with meta.

pub mod config;
pub mod consumer;
pub mod error;
pub mod handler;
mod role;
pub mod store;

pub use config::{BrokerConfig, FlushMode};
pub use error::BrokerError;
pub use role::{Broker, STORE_DIR};
