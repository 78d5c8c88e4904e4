//! [`MetaServer`]: the meta role's shared state, its persistence, and its maintenance task.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::config::MetaConfig;
use super::error::MetaError;
use super::handler::MetaHandler;
use super::store::{Durability, MetaState, RoutingParams, file};

/// The meta role: broker groups, routes and clients, saved in the data directory.
///
/// Cheap to clone (an `Arc`); every clone shares the same state. State changes that clients
/// depend on (routes, broker groups and their states) are saved before the request that caused
/// them is answered; bookkeeping (heartbeat times, online clients) is saved by the maintenance
/// task every `persist_interval_ms` and at [`MetaServer::shutdown`].
#[derive(Debug, Clone)]
pub struct MetaServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: MetaConfig,
    path: PathBuf,
    clock: Clock,
    state: Mutex<MetaState>,
    /// Generation last written to disk; the lock also serialises writers.
    saved: tokio::sync::Mutex<u64>,
}

impl MetaServer {
    /// Validates `config` and loads `<data_dir>/meta/state.json` if it exists.
    ///
    /// Broker groups that were live when the state was saved get one heartbeat timeout, counted
    /// from now, to heartbeat again before they count as NRW.
    ///
    /// # Errors
    /// [`MetaError::Config`] for a bad configuration; [`MetaError::Io`], [`MetaError::Corrupt`]
    /// or [`MetaError::UnsupportedVersion`] when the data directory or state file is unusable.
    pub fn open(config: MetaConfig, data_dir: &Path) -> Result<Self, MetaError> {
        config.validate()?;
        let path = file::state_path(data_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| MetaError::io(dir, e))?;
        }
        let clock = Clock::new();
        let mut state = file::load(&path)?.unwrap_or_default();
        state.grant_restart_grace(clock.now_ms());
        tracing::info!(
            path = %path.display(),
            groups = state.groups().len(),
            "meta state loaded"
        );
        let saved = state.generation();
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                path,
                clock,
                state: Mutex::new(state),
                saved: tokio::sync::Mutex::new(saved),
            }),
        })
    }

    /// The configuration the server was opened with.
    pub fn config(&self) -> &MetaConfig {
        &self.inner.config
    }

    /// Path of the state file.
    pub fn state_path(&self) -> &Path {
        &self.inner.path
    }

    /// The frame handler to give the TCP server.
    pub fn handler(&self) -> MetaHandler {
        MetaHandler::new(self.clone())
    }

    /// A copy of the current state (for inspection and tests).
    pub fn snapshot(&self) -> MetaState {
        self.lock().clone()
    }

    /// Now, epoch ms, from the server's monotonic clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Routing parameters at `now_ms`.
    pub(crate) fn routing_params(&self, now_ms: i64) -> RoutingParams {
        RoutingParams {
            now_ms,
            broker_timeout_ms: ms(self.inner.config.broker_heartbeat_timeout_ms),
            min_group_num: self.inner.config.min_group_num,
        }
    }

    /// Runs `f` on the state under the lock. `f` must not block.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut MetaState) -> R) -> R {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, MetaState> {
        // The state has no invariant a panicking writer could half-break beyond one record,
        // so a poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Saves now if `durability` demands it; a failure is logged (the in-memory state stays
    /// authoritative and the next save retries).
    pub(crate) async fn after_change(&self, durability: Durability) {
        if durability == Durability::Immediate
            && let Err(error) = self.persist().await
        {
            tracing::error!(%error, "meta state not saved");
        }
    }

    /// Writes the state file if anything changed since the last write.
    ///
    /// # Errors
    /// [`MetaError::Io`] naming the file, [`MetaError::Serialize`] or [`MetaError::Writer`].
    pub async fn persist(&self) -> Result<(), MetaError> {
        let mut saved = self.inner.saved.lock().await;
        let (generation, bytes) = {
            let state = self.lock();
            if state.generation() == *saved {
                return Ok(());
            }
            (state.generation(), file::encode(&state)?)
        };
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || file::write_atomic(&path, &bytes))
            .await
            .map_err(|source| MetaError::Writer { source })??;
        *saved = generation;
        Ok(())
    }

    /// Expires silent brokers and clients, then saves pending changes.
    ///
    /// # Errors
    /// As [`MetaServer::persist`].
    pub async fn maintain(&self) -> Result<(), MetaError> {
        let now = self.now_ms();
        let config = &self.inner.config;
        self.with_state(|s| {
            s.expire(
                now,
                ms(config.broker_heartbeat_timeout_ms),
                ms(config.client_liveness_ms),
            )
        });
        self.persist().await
    }

    /// Starts the maintenance task: every `persist_interval_ms` it runs [`MetaServer::maintain`];
    /// when `shutdown` is cancelled it saves once more and ends.
    pub fn spawn_maintenance(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        let server = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(server.inner.config.persist_interval());
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    _ = tick.tick() => {
                        if let Err(error) = server.maintain().await {
                            tracing::error!(%error, "meta state not saved");
                        }
                    }
                }
            }
            if let Err(error) = server.shutdown().await {
                tracing::error!(%error, "meta state not saved at shutdown");
            }
        })
    }

    /// Saves the state. Call after the TCP server and maintenance task have stopped.
    ///
    /// # Errors
    /// As [`MetaServer::persist`].
    pub async fn shutdown(&self) -> Result<(), MetaError> {
        self.persist().await
    }
}

/// Config milliseconds as `i64` (validated to be far below `i64::MAX`).
fn ms(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 4)
}
