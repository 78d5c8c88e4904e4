//! One shared [`Connection`] per broker address, for the consumer's pulls, acks and send-backs.
//!
//! A stand-in for the client-wide connection pool: connections are created on first use and
//! kept until [`BrokerConnections::close_all`]; a broken socket reconnects on its next request
//! (see [`Connection`]).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::runtime::Handle;

use crate::client::address::HostPort;
use crate::client::connection::{Connection, ConnectionConfig};

/// Connections keyed by broker address.
#[derive(Debug)]
pub(crate) struct BrokerConnections {
    config: ConnectionConfig,
    handle: Handle,
    map: Mutex<HashMap<HostPort, Connection>>,
}

impl BrokerConnections {
    pub(crate) fn new(config: ConnectionConfig, handle: Handle) -> Self {
        Self {
            config,
            handle,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The connection to `addr`, created (unconnected) if there is none yet.
    pub(crate) fn get(&self, addr: &HostPort) -> Connection {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(conn) = map.get(addr).filter(|c| !c.is_closed()) {
            return conn.clone();
        }
        let conn = Connection::new(addr.clone(), self.config.clone(), self.handle.clone());
        map.insert(addr.clone(), conn.clone());
        conn
    }

    /// Closes every connection.
    pub(crate) fn close_all(&self) {
        let map = std::mem::take(&mut *self.map.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in map.values() {
            conn.close();
        }
    }
}
