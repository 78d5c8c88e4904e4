//! The real [`Dispatcher`]: finds a subject's brokers through meta and re-sends the stored
//! records with SEND_MESSAGE version 7, as QMQ's delay server does (spec §9).
//!
//! * Routes: CLIENT_REGISTER to the meta TCP address as a PRODUCER (client type 1), ONLINE the
//!   first time per subject and HEARTBEAT afterwards; only RW/W groups are used. A route is
//!   reused for `route_refresh_ms`, and dropped at once after a failed send, a
//!   BROKER_REJECT or a BROKER_READ_ONLY answer. If meta is unreachable an older route is used.
//! * Sending: groups are used round robin; records go out in requests of at most 30 (the Java
//!   client's batch), byte for byte as stored (CRC, delay flag and schedule time unchanged).
//!   Per message, SUCCESS and MESSAGE_DUPLICATE count as delivered; every other code is a
//!   failure the scheduler retries.
//!
//! Invariants: one multiplexed [`Connection`] per peer, created on the runtime that first
//! needs it and closed when a request on it fails; no lock is held across a network call.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use qmq_core::client::{Connection, ConnectionConfig, HostPort};
use qmq_core::protocol::frame::{VERSION_7, VERSION_9};
use qmq_core::protocol::{
    ClientRegisterRequest, ClientRequestType, ClientType, Frame, MessageProducerCode,
    MetaInfoResponse, RequestCode, ResponseCode, SendMessageResponse,
};
use tracing::{debug, warn};

use super::config::DelayConfig;
use super::dispatcher::{DispatchError, Dispatcher, DueMessage, SubjectBatch};

/// Records per SEND_MESSAGE request (the Java producer's limit).
pub const MAX_RECORDS_PER_SEND: usize = 30;

/// `appCode` sent to meta.
const APP_CODE: &str = "qmq-delay-server";

struct CachedRoute {
    masters: Vec<String>,
    fetched: Instant,
    fresh: bool,
}

/// Sends due messages to the brokers meta assigns to their subject.
pub struct BrokerDispatcher {
    meta: OnceLock<HostPort>,
    client_id: String,
    route_refresh: Duration,
    request_timeout: Duration,
    conn_config: ConnectionConfig,
    meta_conn: Mutex<Option<Connection>>,
    routes: Mutex<HashMap<String, CachedRoute>>,
    brokers: Mutex<HashMap<String, Connection>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for BrokerDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerDispatcher")
            .field("meta", &self.meta.get())
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BrokerDispatcher {
    /// A dispatcher with `config`'s timeouts. It fails every batch with
    /// [`DispatchError::NoRoute`] until [`BrokerDispatcher::set_meta`] is called.
    pub fn new(config: &DelayConfig) -> Self {
        let request_timeout = Duration::from_millis(config.request_timeout_ms);
        Self {
            meta: OnceLock::new(),
            client_id: format!(
                "{}@@{}",
                qmq_core::client::ids::hostname(),
                config.group_name
            ),
            route_refresh: Duration::from_millis(config.route_refresh_ms),
            request_timeout,
            conn_config: ConnectionConfig {
                request_timeout,
                ..ConnectionConfig::default()
            },
            meta_conn: Mutex::new(None),
            routes: Mutex::new(HashMap::new()),
            brokers: Mutex::new(HashMap::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// Sets the meta server's TCP address; later calls are ignored.
    pub fn set_meta(&self, meta: HostPort) {
        let _ = self.meta.set(meta);
    }

    fn connection(&self, map: &Mutex<Option<Connection>>, addr: &HostPort) -> Connection {
        let mut slot = lock(map);
        match slot.as_ref().filter(|c| !c.is_closed()) {
            Some(c) => c.clone(),
            None => {
                let c = Connection::new(
                    addr.clone(),
                    self.conn_config.clone(),
                    tokio::runtime::Handle::current(),
                );
                *slot = Some(c.clone());
                c
            }
        }
    }

    fn broker_connection(&self, addr: &HostPort) -> Connection {
        let key = addr.to_string();
        let mut map = lock(&self.brokers);
        match map.get(&key).filter(|c| !c.is_closed()) {
            Some(c) => c.clone(),
            None => {
                let c = Connection::new(
                    addr.clone(),
                    self.conn_config.clone(),
                    tokio::runtime::Handle::current(),
                );
                map.insert(key, c.clone());
                c
            }
        }
    }

    /// Forgets the route of `subject`, so the next batch asks meta again.
    fn invalidate(&self, subject: &str) {
        if let Some(r) = lock(&self.routes).get_mut(subject) {
            r.fresh = false;
        }
    }

    async fn route(&self, subject: &str) -> Result<Vec<String>, DispatchError> {
        let no_route = || DispatchError::NoRoute {
            subject: subject.to_owned(),
        };
        let (cached, registered) = match lock(&self.routes).get(subject) {
            Some(r) if r.fresh && r.fetched.elapsed() < self.route_refresh => {
                return Ok(r.masters.clone());
            }
            Some(r) => (Some(r.masters.clone()), true),
            None => (None, false),
        };
        let meta = self.meta.get().ok_or_else(no_route)?;
        match self.ask_meta(meta, subject, registered).await {
            Ok(masters) => {
                lock(&self.routes).insert(
                    subject.to_owned(),
                    CachedRoute {
                        masters: masters.clone(),
                        fetched: Instant::now(),
                        fresh: true,
                    },
                );
                if masters.is_empty() {
                    return Err(no_route());
                }
                Ok(masters)
            }
            Err(e) => match cached.filter(|m| !m.is_empty()) {
                Some(masters) => {
                    warn!(subject, cause = %e, "meta unreachable, using the last route");
                    Ok(masters)
                }
                None => Err(e),
            },
        }
    }

    async fn ask_meta(
        &self,
        meta: &HostPort,
        subject: &str,
        registered: bool,
    ) -> Result<Vec<String>, DispatchError> {
        let request_type = if registered {
            ClientRequestType::Heartbeat
        } else {
            ClientRequestType::Online
        };
        let request = ClientRegisterRequest::new(
            subject,
            ClientType::Producer,
            APP_CODE,
            &self.client_id,
            "",
            request_type,
        );
        let mut body = BytesMut::with_capacity(request.encoded_len());
        request.encode(&mut body);
        let conn = self.connection(&self.meta_conn, meta);
        let frame = conn
            .request_with_timeout(
                RequestCode::ClientRegister,
                VERSION_9,
                body.freeze(),
                self.request_timeout,
            )
            .await
            .map_err(|source| {
                conn.close();
                DispatchError::Client {
                    subject: subject.to_owned(),
                    peer: meta.to_string(),
                    source,
                }
            })?;
        if frame.header.code != ResponseCode::Success.as_i16() {
            return Err(DispatchError::Rejected {
                subject: subject.to_owned(),
                broker: meta.to_string(),
                code: frame.header.code,
            });
        }
        let (response, _) =
            MetaInfoResponse::decode(&frame.body).map_err(|source| DispatchError::Protocol {
                what: "CLIENT_REGISTER response",
                peer: meta.to_string(),
                source,
            })?;
        if response.timestamp == -2 {
            return Err(DispatchError::NoRoute {
                subject: subject.to_owned(),
            });
        }
        let masters: Vec<String> = response
            .broker_groups
            .into_iter()
            .filter(|g| g.state.can_write())
            .map(|g| g.master)
            .collect();
        debug!(subject, brokers = masters.len(), "route from meta");
        Ok(masters)
    }

    async fn send_chunk(
        &self,
        subject: &str,
        broker: &HostPort,
        conn: &Connection,
        chunk: &[DueMessage],
    ) -> Result<Vec<bool>, DispatchError> {
        let frame: Frame = conn
            .request_with_timeout(
                RequestCode::SendMessage,
                VERSION_7,
                send_body(chunk),
                self.request_timeout,
            )
            .await
            .map_err(|source| {
                conn.close();
                DispatchError::Client {
                    subject: subject.to_owned(),
                    peer: broker.to_string(),
                    source,
                }
            })?;
        if frame.header.code != ResponseCode::Success.as_i16() {
            return Err(DispatchError::Rejected {
                subject: subject.to_owned(),
                broker: broker.to_string(),
                code: frame.header.code,
            });
        }
        let (response, _) =
            SendMessageResponse::decode(&frame.body).map_err(|source| DispatchError::Protocol {
                what: "SEND_MESSAGE response",
                peer: broker.to_string(),
                source,
            })?;
        let delivered = |code: i32| {
            matches!(
                MessageProducerCode::from_i32(code),
                Some(MessageProducerCode::Success | MessageProducerCode::MessageDuplicate)
            )
        };
        if response
            .failures
            .iter()
            .any(|f| f.code == MessageProducerCode::BrokerReadOnly.as_i32())
        {
            self.invalidate(subject);
        }
        let failed: HashSet<&str> = response
            .failures
            .iter()
            .filter(|f| !delivered(f.code))
            .map(|f| f.message_id.as_str())
            .collect();
        Ok(chunk
            .iter()
            .map(|m| !failed.contains(m.message_id.as_str()))
            .collect())
    }
}

impl Dispatcher for BrokerDispatcher {
    async fn dispatch(&self, batch: &SubjectBatch) -> Result<Vec<bool>, DispatchError> {
        let subject = batch.subject.as_str();
        let masters = self.route(subject).await?;
        let pick = self.next.fetch_add(1, Ordering::Relaxed) % masters.len().max(1);
        let address = masters.get(pick).cloned().unwrap_or_default();
        let broker: HostPort = address
            .parse()
            .map_err(|_| DispatchError::BadBrokerAddress {
                subject: subject.to_owned(),
                address: address.clone(),
            })?;
        let conn = self.broker_connection(&broker);
        let mut ok = Vec::with_capacity(batch.messages.len());
        for chunk in batch.messages.chunks(MAX_RECORDS_PER_SEND) {
            match self.send_chunk(subject, &broker, &conn, chunk).await {
                Ok(answers) => ok.extend(answers),
                Err(e) => {
                    self.invalidate(subject);
                    if ok.is_empty() {
                        return Err(e);
                    }
                    // Earlier chunks were stored: report them; the rest count as failed.
                    warn!(subject, broker = %broker, cause = %e, "send failed part-way");
                    break;
                }
            }
        }
        Ok(ok)
    }
}

/// The records of `messages` back to back: a SEND_MESSAGE body.
fn send_body(messages: &[DueMessage]) -> Bytes {
    let mut body = BytesMut::new();
    for m in messages {
        body.extend_from_slice(&m.record);
    }
    body.freeze()
}
