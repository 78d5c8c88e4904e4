//! The client side of the meta server (spec §2.2): CLIENT_REGISTER on-line and heartbeat
//! requests, and the route cache they fill.
//!
//! * The meta TCP address comes from the HTTP locator ([`MetaLocator`]); it is looked up again
//!   after `refresh_interval`, and at once after a failed request. If the locator fails, the
//!   last known address is tried.
//! * Every (client type, subject, group) asked about is remembered. The first request for one
//!   is `ONLINE`, later ones `HEARTBEAT`; a background task re-sends all of them every
//!   `refresh_interval` (60 s), which is also how routes stay fresh.
//! * Routes are cached per (client type, subject) — the group is not part of the key (as in
//!   Java). A route keeps only the groups that can serve its client: consumers RW/R,
//!   producers and delay producers RW/W, anyone else all but NRW.
//! * Producers ignore an answer without usable groups while an older route exists; with none,
//!   the lookup fails with [`ClientError::NoRoute`] (retriable).
//! * The consumer on/off-line state is kept per (subject, group) for real subjects, and only
//!   replaced by an answer whose timestamp is not older.
//!
//! Invariants: the background task holds only a weak reference and stops when the last
//! [`MetaClient`] clone is dropped or [`MetaClient::close`] is called; no lock is held across
//! a network call except the one serialising (re)connection to meta.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::BytesMut;
use tokio::runtime::Handle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::config::ClientConfig;
use super::connection::{Connection, ConnectionConfig};
use super::error::ClientError;
use super::ids::ClientId;
use super::meta_locator::MetaLocator;
use crate::protocol::frame::VERSION_9;
use crate::protocol::names::{SubjectKind, is_valid_name, parse_subject};
use crate::protocol::{
    BrokerGroupInfo, BrokerState, ClientRegisterRequest, ClientRequestType, ClientType,
    MetaInfoResponse, OnOfflineState, RequestCode, ResponseCode,
};

/// The broker groups that serve one (client type, subject).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Who the route is for.
    pub client_type: ClientType,
    /// The subject as registered.
    pub subject: String,
    /// Groups that can serve this client type, in meta's order.
    pub broker_groups: Vec<BrokerGroupInfo>,
    /// When meta last confirmed this route.
    pub fetched_at: Instant,
}

/// One (client type, subject, group) known to meta.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Registration {
    client_type: ClientType,
    subject: String,
    group: String,
}

#[derive(Default)]
struct State {
    /// Value: whether an `ONLINE` request has succeeded.
    registrations: HashMap<Registration, bool>,
    routes: HashMap<(ClientType, String), Arc<Route>>,
    /// (subject, group) → (meta timestamp, state).
    consumer_states: HashMap<(String, String), (i64, OnOfflineState)>,
}

struct MetaConn {
    conn: Connection,
    located_at: Instant,
    stale: bool,
}

struct Inner {
    locator: MetaLocator,
    app_code: String,
    client_id: ClientId,
    refresh_interval: Duration,
    request_timeout: Duration,
    connection: ConnectionConfig,
    handle: Handle,
    meta: tokio::sync::Mutex<Option<MetaConn>>,
    state: Mutex<State>,
    closed: CancellationToken,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

/// Registers clients with the meta server and caches their routes; cheap to clone.
#[derive(Clone)]
pub struct MetaClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MetaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaClient")
            .field("url", &self.inner.locator.url().as_str())
            .field("client_id", &self.inner.client_id)
            .finish_non_exhaustive()
    }
}

impl MetaClient {
    /// A meta client for `config`, identified as `client_id`, running its connection and
    /// heartbeat tasks on `handle`. Nothing is sent until the first lookup.
    ///
    /// # Errors
    /// [`ClientError::Config`] if `config` does not validate.
    pub fn new(
        config: &ClientConfig,
        client_id: ClientId,
        handle: Handle,
    ) -> Result<Self, ClientError> {
        config.validate()?;
        let inner = Arc::new(Inner {
            locator: MetaLocator::new(&config.meta.url, config.meta.locator.clone())?,
            app_code: config.app_code.clone(),
            client_id,
            refresh_interval: config.meta.refresh_interval,
            request_timeout: config.meta.request_timeout,
            connection: config.connection.clone(),
            handle,
            meta: tokio::sync::Mutex::new(None),
            state: Mutex::new(State::default()),
            closed: CancellationToken::new(),
        });
        spawn_heartbeat(&inner);
        Ok(Self { inner })
    }

    /// The client id sent with every registration.
    pub fn client_id(&self) -> &ClientId {
        &self.inner.client_id
    }

    /// The route for (client type, subject), from the cache while younger than the refresh
    /// interval and this (type, subject, group) has registered, else from meta. `group` is the consumer group (`""` for producers). If meta
    /// cannot be reached but an older route is cached, the older route is returned.
    ///
    /// # Errors
    /// [`ClientError::InvalidName`], [`ClientError::NoRoute`], [`ClientError::MetaRejected`],
    /// locator, connection and protocol errors.
    pub async fn route(
        &self,
        client_type: ClientType,
        subject: &str,
        group: &str,
    ) -> Result<Arc<Route>, ClientError> {
        let reg = registration(client_type, subject, group)?;
        let cached = self.cached_route(client_type, subject);
        // The cache key has no group, so a new group must still register itself.
        let known = self
            .lock()
            .registrations
            .get(&reg)
            .copied()
            .unwrap_or(false);
        if let Some(route) = cached.as_ref().filter(|_| known) {
            if route.fetched_at.elapsed() < self.inner.refresh_interval {
                return Ok(route.clone());
            }
        }
        match self.register(&reg).await {
            Ok(route) => Ok(route),
            Err(e) => match cached {
                Some(route) if e.is_retriable() => {
                    tracing::warn!(subject, error = %e, "meta refresh failed, using cached route");
                    Ok(route)
                }
                _ => Err(e),
            },
        }
    }

    /// Asks meta now (e.g. after a broker rejected a request or a group went read-only) and
    /// updates the cache.
    ///
    /// # Errors
    /// As [`MetaClient::route`], without the fallback to a cached route.
    pub async fn refresh(
        &self,
        client_type: ClientType,
        subject: &str,
        group: &str,
    ) -> Result<Arc<Route>, ClientError> {
        let reg = registration(client_type, subject, group)?;
        self.register(&reg).await
    }

    /// The cached route, however old.
    pub fn cached_route(&self, client_type: ClientType, subject: &str) -> Option<Arc<Route>> {
        self.lock()
            .routes
            .get(&(client_type, subject.to_owned()))
            .cloned()
    }

    /// The on/off-line state meta reported for this client as a consumer of (subject, group).
    pub fn consumer_state(&self, subject: &str, group: &str) -> Option<OnOfflineState> {
        self.lock()
            .consumer_states
            .get(&(subject.to_owned(), group.to_owned()))
            .map(|(_, s)| *s)
    }

    /// Re-sends every known registration (as the background task does each interval) and
    /// returns how many failed; failures are logged.
    pub async fn heartbeat_all(&self) -> usize {
        let regs: Vec<Registration> = self.lock().registrations.keys().cloned().collect();
        let mut failed = 0;
        for reg in regs {
            if let Err(e) = self.register(&reg).await {
                failed += 1;
                tracing::warn!(subject = reg.subject, group = reg.group, error = %e, "meta heartbeat failed");
            }
        }
        failed
    }

    /// Stops the heartbeat task and closes the meta connection. Never blocks.
    pub fn close(&self) {
        self.inner.closed.cancel();
        if let Ok(slot) = self.inner.meta.try_lock() {
            if let Some(m) = slot.as_ref() {
                m.conn.close();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; recover from poison rather than propagate it.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn register(&self, reg: &Registration) -> Result<Arc<Route>, ClientError> {
        let online_sent = *self
            .lock()
            .registrations
            .entry(reg.clone())
            .or_insert(false);
        let request_type = if online_sent {
            ClientRequestType::Heartbeat
        } else {
            ClientRequestType::Online
        };
        let request = ClientRegisterRequest::new(
            &reg.subject,
            reg.client_type,
            &self.inner.app_code,
            self.inner.client_id.as_str(),
            &reg.group,
            request_type,
        );
        let mut body = BytesMut::with_capacity(request.encoded_len());
        request.encode(&mut body);

        let conn = self.meta_connection().await?;
        let addr = conn.addr().to_string();
        let frame = match conn
            .request_with_timeout(
                RequestCode::ClientRegister,
                VERSION_9,
                body.freeze(),
                self.inner.request_timeout,
            )
            .await
        {
            Ok(frame) => frame,
            Err(e) => {
                self.mark_stale(&conn).await;
                return Err(e);
            }
        };
        if frame.header.code != ResponseCode::Success.as_i16() {
            return Err(ClientError::ServerResponse {
                addr,
                request: RequestCode::ClientRegister.as_i16(),
                code: frame.header.code,
            });
        }
        let (response, _) =
            MetaInfoResponse::decode(&frame.body).map_err(|source| ClientError::Protocol {
                addr,
                what: "MetaInfoResponse",
                source,
            })?;
        if response.timestamp == -2 {
            return Err(ClientError::MetaRejected {
                subject: reg.subject.clone(),
                client_type: reg.client_type,
            });
        }
        self.lock().registrations.insert(reg.clone(), true);
        self.apply(reg, response)
    }

    fn apply(
        &self,
        reg: &Registration,
        response: MetaInfoResponse,
    ) -> Result<Arc<Route>, ClientError> {
        let usable: Vec<BrokerGroupInfo> = response
            .broker_groups
            .into_iter()
            .filter(|g| serves(reg.client_type, g.state))
            .collect();
        let now = Instant::now();
        let mut state = self.lock();
        if !reg.group.is_empty() && parse_subject(&reg.subject).0 == SubjectKind::Real {
            let entry = state
                .consumer_states
                .entry((reg.subject.clone(), reg.group.clone()))
                .or_insert((i64::MIN, OnOfflineState::Online));
            if response.timestamp >= entry.0 {
                *entry = (response.timestamp, response.on_offline_state);
            }
        }
        let key = (reg.client_type, reg.subject.clone());
        let producer = matches!(
            reg.client_type,
            ClientType::Producer | ClientType::DelayProducer
        );
        let groups = if usable.is_empty() && producer {
            match state.routes.get(&key) {
                // Keep the groups we had; count this answer as a refresh so we do not hammer meta.
                Some(old) => old.broker_groups.clone(),
                None => {
                    return Err(ClientError::NoRoute {
                        subject: reg.subject.clone(),
                        client_type: reg.client_type,
                    });
                }
            }
        } else {
            usable
        };
        let route = Arc::new(Route {
            client_type: reg.client_type,
            subject: reg.subject.clone(),
            broker_groups: groups,
            fetched_at: now,
        });
        state.routes.insert(key, route.clone());
        Ok(route)
    }

    /// The connection to meta, locating meta first when there is none, it is older than the
    /// refresh interval, or the last request on it failed.
    async fn meta_connection(&self) -> Result<Connection, ClientError> {
        let closed = || ClientError::ConnectionClosed {
            addr: self.inner.locator.url().as_str().to_owned(),
        };
        if self.inner.closed.is_cancelled() {
            return Err(closed());
        }
        let mut slot = self.inner.meta.lock().await;
        if let Some(m) = slot.as_ref() {
            if !m.stale && m.located_at.elapsed() < self.inner.refresh_interval {
                return Ok(m.conn.clone());
            }
        }
        let located = tokio::select! {
            _ = self.inner.closed.cancelled() => return Err(closed()),
            located = self.inner.locator.locate() => located,
        };
        let now = Instant::now();
        match located {
            Ok(addr) => {
                if let Some(m) = slot.as_mut() {
                    if !m.stale && m.conn.addr() == &addr {
                        m.located_at = now;
                        return Ok(m.conn.clone());
                    }
                    m.conn.close();
                }
                tracing::debug!(conn = %addr, "using meta server");
                let conn = Connection::new(
                    addr,
                    self.inner.connection.clone(),
                    self.inner.handle.clone(),
                );
                *slot = Some(MetaConn {
                    conn: conn.clone(),
                    located_at: now,
                    stale: false,
                });
                Ok(conn)
            }
            // The locator is down: the last known meta server may still be up.
            Err(e) => match slot.as_ref() {
                Some(m) => {
                    tracing::warn!(error = %e, "meta locator failed, trying last known meta server");
                    Ok(m.conn.clone())
                }
                None => Err(e),
            },
        }
    }

    async fn mark_stale(&self, conn: &Connection) {
        if let Some(m) = self.inner.meta.lock().await.as_mut() {
            if m.conn.same_as(conn) {
                m.stale = true;
            }
        }
    }
}

/// Whether a group in `state` can serve `client_type` (spec §2.2).
fn serves(client_type: ClientType, state: BrokerState) -> bool {
    match client_type {
        ClientType::Consumer => state.can_read(),
        ClientType::Producer | ClientType::DelayProducer => state.can_write(),
        ClientType::Other => state != BrokerState::Nrw,
    }
}

fn registration(
    client_type: ClientType,
    subject: &str,
    group: &str,
) -> Result<Registration, ClientError> {
    if !is_valid_name(subject) {
        return Err(ClientError::InvalidName {
            what: "subject",
            name: subject.to_owned(),
        });
    }
    if !group.is_empty() && !is_valid_name(group) {
        return Err(ClientError::InvalidName {
            what: "group",
            name: group.to_owned(),
        });
    }
    Ok(Registration {
        client_type,
        subject: subject.to_owned(),
        group: group.to_owned(),
    })
}

fn spawn_heartbeat(inner: &Arc<Inner>) {
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let closed = inner.closed.clone();
    let period = inner.refresh_interval;
    inner.handle.spawn(async move {
        let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = closed.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let Some(inner) = weak.upgrade() else { return };
            let client = MetaClient { inner };
            tokio::select! {
                _ = closed.cancelled() => return,
                _ = client.heartbeat_all() => {}
            }
        }
    });
}

#[cfg(test)]
#[path = "meta_client_tests.rs"]
mod tests;
