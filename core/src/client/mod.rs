//! The QMQ client: everything a producer or consumer needs besides the wire codec.
//!
//! What this module owns:
//! * [`runtime`]: the explicitly owned tokio runtime (no global runtime anywhere);
//! * [`config`]: [`ClientConfig`] with QMQ's defaults and `validate()`;
//! * [`ids`]: message ids and client ids in QMQ's formats (spec §8);
//! * [`meta_locator`]: HTTP discovery of the meta server (spec §2.1);
//! * [`connection`]: a multiplexed TCP connection to one server (spec §1);
//! * [`meta_client`]: CLIENT_REGISTER on-line/heartbeat and the route cache (spec §2.2);
//! * [`breaker`] and [`backoff`]: per-broker circuit breaker (spec §12) and retry delays;
//! * [`Client`] (`client.rs`): the handle owning the runtime, meta client and connection pool;
//! * [`producer`]: message building, the send queue, batching, retries, completions;
//! * [`idempotence`]: the idempotent-consumption store (spec §12), in memory and SQLite;
//! * [`transaction`]: transactional messages, QMQ's `qmq_msg_queue` outbox (spec §12).
//!
//! Invariants: nothing here spawns threads or tasks except through a [`ClientRuntime`]; nothing
//! here installs a tracing subscriber; blocking calls refuse to run inside an async runtime
//! instead of panicking.

pub mod address;
pub mod backoff;
pub mod breaker;
#[allow(clippy::module_inception, reason = "the Client handle")]
mod client;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod error;
mod hash;
pub mod idempotence;
pub mod ids;
pub mod meta_client;
pub mod meta_locator;
mod pool;
pub mod producer;
pub mod runtime;
pub mod transaction;

pub use address::{HostPort, HostPortError};
pub use backoff::Backoff;
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use client::Client;
pub use config::{ClientConfig, ConfigError, ConsumerConfig, MetaConfig, ProducerConfig};
pub use connection::{Connection, ConnectionConfig, ConnectionLostCause};
pub use error::{ClientError, ErrorCategory};
pub use ids::{ClientId, MessageIdGenerator};
pub use meta_client::{MetaClient, Route};
pub use meta_locator::{LocatorConfig, MetaLocator, MetaUrl};
pub use producer::{Producer, ProducerMessage, SendCallback, SendFuture, SendReceipt, SendResult};
pub use runtime::{ClientRuntime, RuntimeConfig};
