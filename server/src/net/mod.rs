//! TCP serving shared by every role: accept loop, frame reading, dispatch, writing.
//!
//! A role implements [`FrameHandler`]; [`serve`] does everything else. Invariants:
//! - a malformed frame (bad magic, header size, length past the limit) is logged once and
//!   closes only its own connection;
//! - unknown request codes are answered with UNKNOWN_CODE and HEARTBEAT with an empty SUCCESS
//!   before the role sees them, so roles only see codes they registered;
//! - every request runs in its own task, so a long poll never blocks the connection;
//! - in-flight requests per connection are bounded: reading stops at the bound (backpressure).

mod connection;
mod listener;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use qmq_core::protocol::{Frame, RequestCode};
use serde::{Deserialize, Serialize};

pub use listener::serve;

/// A role's request processor.
pub trait FrameHandler: Send + Sync + 'static {
    /// Handles one request; `None` means no reply (one-way requests, dropped pulls).
    fn handle(
        &self,
        request: Frame,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Frame>> + Send + '_;

    /// Whether the role processes `code`; others are answered with UNKNOWN_CODE.
    fn accepts(&self, code: RequestCode) -> bool;
}

/// Limits of the TCP layer (`[net]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetConfig {
    /// Largest accepted frame in bytes; larger frames close the connection.
    pub max_frame_bytes: usize,
    /// Most concurrent connections per listener; accepting pauses at the limit.
    pub max_connections: usize,
    /// Most requests in flight on one connection; reading pauses at the limit.
    pub max_in_flight_per_connection: usize,
    /// How long shutdown waits for in-flight requests, in milliseconds.
    pub shutdown_grace_ms: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024 * 1024,
            max_connections: 10_000,
            max_in_flight_per_connection: 4_096,
            shutdown_grace_ms: 5_000,
        }
    }
}

impl NetConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// Names the first invalid key.
    pub fn validate(&self) -> Result<(), crate::config::ConfigError> {
        use crate::config::ConfigError;
        if self.max_frame_bytes < qmq_core::protocol::frame::FRAME_PREFIX_LEN {
            return Err(ConfigError::invalid(
                "net.max_frame_bytes",
                "must be at least 24",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::invalid(
                "net.max_connections",
                "must be positive",
            ));
        }
        if self.max_in_flight_per_connection == 0 {
            return Err(ConfigError::invalid(
                "net.max_in_flight_per_connection",
                "must be positive",
            ));
        }
        Ok(())
    }

    pub(crate) fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

#[cfg(test)]
mod tests;
