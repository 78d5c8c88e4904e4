//! Delay server → meta registration (spec §2.3): BROKER_REGISTER with role DELAY_MASTER (5),
//! ONLINE at start, HEARTBEAT every `meta_heartbeat_ms` (10 s), OFFLINE at shutdown.
//!
//! The broker role's `broker::registration` registers role MASTER only; this is its delay
//! twin. Requests go over a core [`Connection`] with header version 8; its `requestCode` is the
//! command code rather than Java's −1, which servers ignore (they dispatch on `code`).
//!
//! Invariants: the task never gives up while the role runs (failures are logged and retried
//! with backoff up to the heartbeat interval); OFFLINE is attempted up to three times when
//! `shutdown` fires.

use std::time::Duration;

use bytes::BytesMut;
use qmq_core::client::{Connection, ConnectionConfig, HostPort};
use qmq_core::protocol::frame::VERSION_8;
use qmq_core::protocol::{
    BrokerRegisterRequest, BrokerRequestType, BrokerRole, BrokerState, RequestCode, ResponseCode,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Bound on one request (QMQ: 2 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What the delay server tells meta about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayRegistration {
    /// Delay group name.
    pub group_name: String,
    /// `ip:port` delay producers reach this server at.
    pub address: String,
    /// Time between heartbeats.
    pub heartbeat_interval: Duration,
}

impl DelayRegistration {
    fn request(&self, request_type: BrokerRequestType) -> BrokerRegisterRequest {
        BrokerRegisterRequest {
            request_type,
            group_name: self.group_name.clone(),
            broker_address: self.address.clone(),
            broker_role: BrokerRole::DelayMaster,
            broker_state: BrokerState::Rw,
        }
    }
}

async fn send(conn: &Connection, request: &BrokerRegisterRequest) -> Result<(), String> {
    let mut body = BytesMut::with_capacity(request.encoded_len());
    request.encode(&mut body);
    let reply = conn
        .request_with_timeout(
            RequestCode::BrokerRegister,
            VERSION_8,
            body.freeze(),
            REQUEST_TIMEOUT,
        )
        .await
        .map_err(|e| {
            conn.close();
            e.to_string()
        })?;
    if reply.header.code == ResponseCode::Success.as_i16() {
        Ok(())
    } else {
        Err(format!("meta answered code {}", reply.header.code))
    }
}

/// Registers with the meta server at `meta` until `shutdown` is cancelled, then says OFFLINE.
pub async fn run(meta: HostPort, registration: DelayRegistration, shutdown: CancellationToken) {
    let config = ConnectionConfig {
        connect_timeout: REQUEST_TIMEOUT,
        request_timeout: REQUEST_TIMEOUT,
        ..ConnectionConfig::default()
    };
    let handle = tokio::runtime::Handle::current();
    let mut conn = Connection::new(meta.clone(), config.clone(), handle.clone());
    let mut online = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        if conn.is_closed() {
            conn = Connection::new(meta.clone(), config.clone(), handle.clone());
        }
        let kind = if online {
            BrokerRequestType::Heartbeat
        } else {
            BrokerRequestType::Online
        };
        let request = registration.request(kind);
        let sent = tokio::select! {
            () = shutdown.cancelled() => break,
            sent = send(&conn, &request) => sent,
        };
        let wait = match sent {
            Ok(()) => {
                if !online {
                    info!(broker = %registration.address, %meta, "delay server registered with meta");
                }
                online = true;
                backoff = Duration::from_millis(100);
                registration.heartbeat_interval
            }
            Err(cause) => {
                warn!(broker = %registration.address, %cause, "meta registration failed");
                backoff = (backoff * 2).min(registration.heartbeat_interval);
                backoff
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    let offline = registration.request(BrokerRequestType::Offline);
    for _ in 0..3 {
        if conn.is_closed() {
            conn = Connection::new(meta.clone(), config.clone(), handle.clone());
        }
        match send(&conn, &offline).await {
            Ok(()) => {
                info!(broker = %registration.address, "delay server unregistered from meta");
                break;
            }
            Err(cause) => warn!(broker = %registration.address, %cause, "meta offline failed"),
        }
    }
    conn.close();
}
