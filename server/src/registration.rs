//! Broker and delay server → meta registration (spec §2.3): BROKER_REGISTER with the role's
//! code (MASTER for brokers, DELAY_MASTER for delay servers), ONLINE at start, HEARTBEAT every
//! interval (QMQ: 10 s), OFFLINE at shutdown.
//!
//! Requests go over a core [`Connection`] with header version 8; its `requestCode` is the
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

/// What a server tells meta about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Group name.
    pub group_name: String,
    /// `ip:port` clients reach this server at.
    pub address: String,
    /// The server's role (MASTER or DELAY_MASTER).
    pub role: BrokerRole,
    /// Time between heartbeats.
    pub heartbeat_interval: Duration,
}

impl Registration {
    fn request(&self, request_type: BrokerRequestType) -> BrokerRegisterRequest {
        BrokerRegisterRequest {
            request_type,
            group_name: self.group_name.clone(),
            broker_address: self.address.clone(),
            broker_role: self.role,
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
pub async fn run(meta: HostPort, registration: Registration, shutdown: CancellationToken) {
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
                    info!(broker = %registration.address, %meta, "registered with meta");
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
                info!(broker = %registration.address, "unregistered from meta");
                break;
            }
            Err(cause) => warn!(broker = %registration.address, %cause, "meta offline failed"),
        }
    }
    conn.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use qmq_core::protocol::{Frame, Header};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A fake meta server: answers every frame SUCCESS and reports what it got.
    async fn fake_meta(
        listener: TcpListener,
        seen: tokio::sync::mpsc::UnboundedSender<(Header, BrokerRegisterRequest)>,
    ) {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(frame)) = Frame::decode_from(&mut buf, 1 << 20) {
                        let (req, _) = BrokerRegisterRequest::decode(&frame.body).unwrap();
                        let _ = seen.send((frame.header, req));
                        let mut out = BytesMut::new();
                        Frame::empty_response(&frame.header, ResponseCode::Success)
                            .encode(&mut out);
                        stream.write_all(&out).await.unwrap();
                    }
                    if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return;
                    }
                }
            });
        }
    }

    #[tokio::test]
    async fn online_heartbeats_then_offline() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let meta = listener.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(fake_meta(listener, tx));
        let registration = Registration {
            group_name: "broker-0".into(),
            address: "10.0.0.1:20881".into(),
            role: BrokerRole::Master,
            heartbeat_interval: Duration::from_millis(20),
        };
        let meta = HostPort::new(meta.ip().to_string(), meta.port()).unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(meta, registration, shutdown.clone()));
        let mut kinds = Vec::new();
        while kinds.len() < 3 {
            let (header, req) = rx.recv().await.unwrap();
            assert_eq!(header.version, 8);
            assert_eq!(header.code, RequestCode::BrokerRegister.as_i16());
            assert_eq!(req.group_name, "broker-0");
            assert_eq!(req.broker_address, "10.0.0.1:20881");
            assert_eq!(req.broker_role, BrokerRole::Master);
            assert_eq!(req.broker_state, BrokerState::Rw);
            kinds.push(req.request_type);
        }
        assert_eq!(
            kinds,
            [
                BrokerRequestType::Online,
                BrokerRequestType::Heartbeat,
                BrokerRequestType::Heartbeat
            ]
        );
        shutdown.cancel();
        task.await.unwrap();
        let mut last = None;
        while let Ok((_, req)) = rx.try_recv() {
            last = Some(req.request_type);
        }
        assert_eq!(last, Some(BrokerRequestType::Offline));
    }
}
