//! Broker → meta registration (spec §2.3): BROKER_REGISTER ONLINE at start, HEARTBEAT every
//! interval, OFFLINE at shutdown, over a plain TCP connection with raw headers (version 8,
//! requestCode −1).
//!
//! Invariants: the task never gives up while the broker runs (failures are logged and retried
//! with backoff, reconnecting as needed); ONLINE is re-sent until meta accepted it once; OFFLINE
//! is attempted up to three times when `shutdown` fires.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, VERSION_8};
use qmq_core::protocol::{
    BrokerRegisterRequest, BrokerRequestType, BrokerRole, BrokerState, Frame, Header, RequestCode,
    ResponseCode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::error::BrokerError;

/// How long one request may take (QMQ: 2 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// What a broker tells meta about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Broker group name.
    pub group_name: String,
    /// `ip:port` of the client port.
    pub broker_address: String,
    /// Time between heartbeats.
    pub heartbeat_interval: Duration,
}

impl Registration {
    fn request(&self, request_type: BrokerRequestType) -> BrokerRegisterRequest {
        BrokerRegisterRequest {
            request_type,
            group_name: self.group_name.clone(),
            broker_address: self.broker_address.clone(),
            broker_role: BrokerRole::Master,
            broker_state: BrokerState::Rw,
        }
    }
}

static OPAQUE: AtomicI32 = AtomicI32::new(0);

/// Registers with the meta server at `meta` until `shutdown` is cancelled, then says OFFLINE.
pub async fn run(meta: SocketAddr, registration: Registration, shutdown: CancellationToken) {
    let mut conn: Option<TcpStream> = None;
    let mut online = false;
    let mut backoff = Duration::from_millis(100);
    loop {
        let kind = if online {
            BrokerRequestType::Heartbeat
        } else {
            BrokerRequestType::Online
        };
        let request = registration.request(kind);
        let sent = tokio::select! {
            () = shutdown.cancelled() => break,
            sent = send(&mut conn, meta, &request) => sent,
        };
        let wait = match sent {
            Ok(()) => {
                if !online {
                    info!(broker = %registration.broker_address, %meta, "registered with meta");
                }
                online = true;
                backoff = Duration::from_millis(100);
                registration.heartbeat_interval
            }
            Err(err) => {
                warn!(broker = %registration.broker_address, cause = %err, "meta registration failed");
                conn = None;
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
        match send(&mut conn, meta, &offline).await {
            Ok(()) => {
                info!(broker = %registration.broker_address, "unregistered from meta");
                return;
            }
            Err(err) => {
                warn!(broker = %registration.broker_address, cause = %err, "meta offline failed");
                conn = None;
            }
        }
    }
}

/// Sends one BROKER_REGISTER and waits for its SUCCESS, (re)connecting first if needed.
async fn send(
    conn: &mut Option<TcpStream>,
    meta: SocketAddr,
    request: &BrokerRegisterRequest,
) -> Result<(), BrokerError> {
    let io_err = |op| {
        move |source| BrokerError::Meta {
            op,
            addr: meta,
            source,
        }
    };
    let timeout = |op: &'static str| BrokerError::Meta {
        op,
        addr: meta,
        source: std::io::ErrorKind::TimedOut.into(),
    };
    if conn.is_none() {
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(meta))
            .await
            .map_err(|_| timeout("connect"))?
            .map_err(io_err("connect"))?;
        *conn = Some(stream);
    }
    let Some(stream) = conn.as_mut() else {
        return Err(timeout("connect"));
    };
    let opaque = OPAQUE.fetch_add(1, Ordering::Relaxed);
    let mut header = Header::request(RequestCode::BrokerRegister, VERSION_8, opaque);
    header.request_code = -1;
    let mut body = BytesMut::with_capacity(request.encoded_len());
    request.encode(&mut body);
    let mut frame = BytesMut::new();
    Frame::new(header, body.freeze()).encode(&mut frame);
    let exchange = async {
        stream.write_all(&frame).await.map_err(io_err("write"))?;
        let mut buf = BytesMut::with_capacity(256);
        loop {
            match Frame::decode_from(&mut buf, DEFAULT_MAX_FRAME_LEN) {
                Ok(Some(reply)) if reply.header.opaque == opaque => return Ok(reply),
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(err) => {
                    return Err(BrokerError::Protocol {
                        what: "meta reply",
                        source: err,
                    });
                }
            }
            let n = stream.read_buf(&mut buf).await.map_err(io_err("read"))?;
            if n == 0 {
                return Err(io_err("read")(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    };
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| timeout("register"))??;
    if reply.header.code == ResponseCode::Success.as_i16() {
        Ok(())
    } else {
        Err(BrokerError::MetaRejected {
            addr: meta,
            code: reply.header.code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            broker_address: "10.0.0.1:20881".into(),
            heartbeat_interval: Duration::from_millis(20),
        };
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(meta, registration, shutdown.clone()));
        let mut kinds = Vec::new();
        while kinds.len() < 3 {
            let (header, req) = rx.recv().await.unwrap();
            assert_eq!(header.version, 8);
            assert_eq!(header.request_code, -1);
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
