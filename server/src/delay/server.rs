//! [`DelayServer`]: the delay role as a [`FrameHandler`], with its scheduler loop and its
//! registration with meta.
//!
//! Lifecycle: [`DelayServer::open`] (blocking: recovers the store) → serve it with
//! `net::serve` and call [`DelayServer::start`] (dispatch loop, meta registration) → cancel the
//! shutdown token → [`DelayServer::stop`] (waits for the loop, which syncs the store, then says
//! OFFLINE to meta).
//!
//! Invariants: messages accepted before `start` are stored and wait for the loop; the meta
//! address is given once, at `start`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmq_core::client::HostPort;
use qmq_core::protocol::{Frame, RequestCode, ResponseCode};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::broker_dispatcher::BrokerDispatcher;
use super::clock::{Clock, SystemClock};
use super::config::DelayConfig;
use super::error::DelayError;
use super::handler;
use super::scheduler::DelayScheduler;
use crate::net::FrameHandler;
use crate::registration::{self, Registration};
use qmq_core::protocol::BrokerRole;

/// Name of the store directory inside the data directory.
pub const STORE_DIR: &str = "delay";

/// The delay role. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct DelayServer {
    inner: Arc<Inner>,
}

struct Inner {
    config: DelayConfig,
    scheduler: Arc<DelayScheduler<BrokerDispatcher>>,
    dispatcher: Arc<BrokerDispatcher>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    registration: CancellationToken,
}

impl std::fmt::Debug for DelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelayServer")
            .field("group", &self.inner.config.group_name)
            .finish_non_exhaustive()
    }
}

impl DelayServer {
    /// Validates `config` and opens (recovering) the store in `<data_dir>/delay`, on the system
    /// clock. Blocking.
    ///
    /// # Errors
    /// [`DelayError::Config`], [`DelayError::Store`].
    pub fn open(config: DelayConfig, data_dir: &Path) -> Result<Self, DelayError> {
        Self::open_with_clock(config, data_dir, Arc::new(SystemClock))
    }

    /// As [`DelayServer::open`] with an explicit clock (tests).
    ///
    /// # Errors
    /// As [`DelayServer::open`].
    pub fn open_with_clock(
        config: DelayConfig,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, DelayError> {
        let dispatcher = Arc::new(BrokerDispatcher::new(&config));
        let scheduler = Arc::new(DelayScheduler::open(
            &data_dir.join(STORE_DIR),
            config.clone(),
            clock,
            Arc::clone(&dispatcher),
        )?);
        info!(group = %config.group_name, "delay server opened");
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                scheduler,
                dispatcher,
                tasks: Mutex::new(Vec::new()),
                registration: CancellationToken::new(),
            }),
        })
    }

    /// Starts dispatching through the brokers meta at `meta` names, and registers with meta as
    /// `address` (`ip:port` producers reach this server at). The dispatch loop ends when
    /// `shutdown` is cancelled. Call inside a tokio runtime, once.
    pub fn start(&self, meta: HostPort, address: String, shutdown: &CancellationToken) {
        self.inner.dispatcher.set_meta(meta.clone());
        let scheduler = Arc::clone(&self.inner.scheduler);
        let token = shutdown.clone();
        let run = tokio::spawn(async move { scheduler.run(token).await });
        let registration = tokio::spawn(registration::run(
            meta,
            Registration {
                group_name: self.inner.config.group_name.clone(),
                address,
                role: BrokerRole::DelayMaster,
                heartbeat_interval: self.inner.config.meta_heartbeat_interval(),
            },
            self.inner.registration.clone(),
        ));
        let mut tasks = self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.push(run);
        tasks.push(registration);
    }

    /// After the shutdown token fired: waits for the dispatch loop (which syncs the store),
    /// then unregisters from meta.
    pub async fn stop(&self) {
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        let mut tasks = tasks.into_iter();
        if let Some(run) = tasks.next() {
            let _ = run.await;
        }
        self.inner.registration.cancel();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        info!(group = %self.inner.config.group_name, "delay server stopped");
    }

    /// Fsyncs the store and moves its checkpoint. Blocking.
    ///
    /// # Errors
    /// [`DelayError::Store`].
    pub fn shutdown(&self) -> Result<(), DelayError> {
        self.inner.scheduler.shutdown()
    }

    /// The configuration.
    pub fn config(&self) -> &DelayConfig {
        &self.inner.config
    }

    /// The scheduler (metrics, tests).
    pub fn scheduler(&self) -> &Arc<DelayScheduler<BrokerDispatcher>> {
        &self.inner.scheduler
    }
}

impl FrameHandler for DelayServer {
    async fn handle(&self, request: Frame, peer: SocketAddr) -> Option<Frame> {
        match RequestCode::from_i16(request.header.code) {
            Some(RequestCode::SendMessage) => {
                Some(handler::send_message::handle(&self.inner.scheduler, &request, peer).await)
            }
            _ => Some(Frame::empty_response(
                &request.header,
                ResponseCode::UnknownCode,
            )),
        }
    }

    fn accepts(&self, code: RequestCode) -> bool {
        code == RequestCode::SendMessage
    }
}
