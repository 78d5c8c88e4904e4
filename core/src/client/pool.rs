//! `ConnectionPool`: one multiplexed [`Connection`] per broker address, shared by the producer
//! and the consumer of a [`Client`](super::Client).
//!
//! Invariants:
//! * at most one `Connection` per `host:port`; every caller gets a clone of it, so all requests
//!   to one broker share one socket (responses are matched by opaque);
//! * a connection whose socket broke is not replaced: `Connection` reconnects on demand on the
//!   next request, which is how a client survives a broker restart on the same address;
//! * after [`ConnectionPool::close_all`] every pooled connection is closed and the pool hands
//!   out no new ones ([`ClientError::ConnectionClosed`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::runtime::Handle;

use super::address::HostPort;
use super::connection::{Connection, ConnectionConfig};
use super::error::ClientError;

#[derive(Default)]
struct State {
    conns: HashMap<HostPort, Connection>,
    closed: bool,
}

/// Connections to brokers and delay servers, keyed by address.
pub(crate) struct ConnectionPool {
    config: ConnectionConfig,
    handle: Handle,
    state: Mutex<State>,
}

impl std::fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("ConnectionPool")
            .field("connections", &state.conns.len())
            .field("closed", &state.closed)
            .finish()
    }
}

impl ConnectionPool {
    /// An empty pool whose connections run their tasks on `handle`.
    pub(crate) fn new(config: ConnectionConfig, handle: Handle) -> Self {
        Self {
            config,
            handle,
            state: Mutex::new(State::default()),
        }
    }

    /// The connection to `addr`, created (not yet connected) on first use.
    ///
    /// # Errors
    /// [`ClientError::ConnectionClosed`] after [`ConnectionPool::close_all`].
    pub(crate) fn get(&self, addr: &HostPort) -> Result<Connection, ClientError> {
        let mut state = self.lock();
        if state.closed {
            return Err(ClientError::ConnectionClosed {
                addr: addr.to_string(),
            });
        }
        if let Some(conn) = state.conns.get(addr).filter(|c| !c.is_closed()) {
            return Ok(conn.clone());
        }
        let conn = Connection::new(addr.clone(), self.config.clone(), self.handle.clone());
        state.conns.insert(addr.clone(), conn.clone());
        Ok(conn)
    }

    /// The connection to a broker group's master as meta announces it (`"ip:port"`).
    ///
    /// # Errors
    /// [`ClientError::BadBrokerAddress`] for an unparsable address, else as
    /// [`ConnectionPool::get`].
    pub(crate) fn get_master(&self, group: &str, master: &str) -> Result<Connection, ClientError> {
        let addr: HostPort = master
            .parse()
            .map_err(|source| ClientError::BadBrokerAddress {
                group: group.to_owned(),
                addr: master.to_owned(),
                source,
            })?;
        self.get(&addr)
    }

    /// Closes every connection; later `get`s fail. Never blocks.
    pub(crate) fn close_all(&self) {
        let conns = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.conns)
        };
        for conn in conns.into_values() {
            conn.close();
        }
    }

    /// How many connections the pool holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().conns.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; recover from poison rather than propagate it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_connection_per_address_until_closed() {
        let pool = ConnectionPool::new(ConnectionConfig::default(), Handle::current());
        let a = pool.get_master("g1", "127.0.0.1:1").unwrap();
        let b = pool.get(&"127.0.0.1:1".parse().unwrap()).unwrap();
        assert!(a.same_as(&b));
        let c = pool.get_master("g2", "127.0.0.1:2").unwrap();
        assert!(!a.same_as(&c));
        assert_eq!(pool.len(), 2);
        assert!(matches!(
            pool.get_master("g3", "no-port"),
            Err(ClientError::BadBrokerAddress { .. })
        ));
        pool.close_all();
        assert!(a.is_closed() && c.is_closed());
        assert!(matches!(
            pool.get_master("g1", "127.0.0.1:1"),
            Err(ClientError::ConnectionClosed { .. })
        ));
    }
}
