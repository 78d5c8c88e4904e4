//! `ClientRuntime`: the explicitly owned tokio runtime every client object runs on.
//!
//! There is no global runtime: a host creates one `ClientRuntime`, hands it (or its
//! [`Handle`]) to producers and consumers, and shuts it down when it is done.
//!
//! Invariants:
//! * worker threads are named `qmq-core` (configurable) so they are recognisable in a host's
//!   thread dumps;
//! * [`ClientRuntime::shutdown`] and [`ClientRuntime::block_on`] refuse, with
//!   [`ClientError::BlockingInAsyncContext`], to run inside *any* tokio runtime (tokio would
//!   panic or deadlock); they are safe from every other thread;
//! * dropping a `ClientRuntime` never blocks: it calls tokio's `shutdown_background`, so a
//!   binding's `_free` may drop it from any thread. Call `shutdown` first for a deterministic
//!   stop;
//! * after shutdown, [`ClientRuntime::spawn`] returns [`ClientError::RuntimeShutDown`].

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

use super::config::ConfigError;
use super::error::ClientError;

/// Default worker-thread name.
pub const DEFAULT_THREAD_NAME: &str = "qmq-core";

/// How the client runtime is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Worker threads. Default: the available parallelism, at most 4.
    pub worker_threads: usize,
    /// Name of every runtime thread. Default `qmq-core`.
    pub thread_name: String,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            worker_threads: cpus.clamp(1, 4),
            thread_name: DEFAULT_THREAD_NAME.to_owned(),
        }
    }
}

impl RuntimeConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`ConfigError`] naming `runtime.worker_threads` (must be 1..=256) or
    /// `runtime.thread_name` (must be non-empty, no NUL).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=256).contains(&self.worker_threads) {
            return Err(ConfigError::invalid(
                "runtime.worker_threads",
                format!("{} is not in 1..=256", self.worker_threads),
            ));
        }
        if self.thread_name.is_empty() || self.thread_name.contains('\0') {
            return Err(ConfigError::invalid(
                "runtime.thread_name",
                "must be non-empty and contain no NUL",
            ));
        }
        Ok(())
    }
}

/// An owned multi-thread tokio runtime for the client core.
#[derive(Debug)]
pub struct ClientRuntime {
    handle: Handle,
    /// `None` once shut down.
    runtime: Mutex<Option<Runtime>>,
}

impl ClientRuntime {
    /// Builds a runtime (I/O and time drivers enabled).
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad config, [`ClientError::RuntimeBuild`] if tokio cannot
    /// start its threads.
    pub fn new(config: &RuntimeConfig) -> Result<Self, ClientError> {
        config.validate()?;
        let runtime = Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .thread_name(config.thread_name.clone())
            .enable_all()
            .build()
            .map_err(|source| ClientError::RuntimeBuild { source })?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Mutex::new(Some(runtime)),
        })
    }

    /// A handle to spawn on or enter the runtime. Tasks spawned through it after shutdown are
    /// dropped by tokio; prefer [`ClientRuntime::spawn`], which reports that case.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Whether [`ClientRuntime::shutdown`] has run.
    pub fn is_shut_down(&self) -> bool {
        self.lock().is_none()
    }

    /// Spawns a task on the runtime.
    ///
    /// # Errors
    /// [`ClientError::RuntimeShutDown`] after shutdown.
    pub fn spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, ClientError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Holding the lock makes spawn and shutdown mutually exclusive, so a task is never
        // spawned onto a runtime that is already going away.
        let guard = self.lock();
        if guard.is_none() {
            return Err(ClientError::RuntimeShutDown);
        }
        Ok(self.handle.spawn(future))
    }

    /// Runs blocking code on the runtime's blocking pool.
    ///
    /// # Errors
    /// [`ClientError::RuntimeShutDown`] after shutdown.
    pub fn spawn_blocking<F, R>(&self, f: F) -> Result<JoinHandle<R>, ClientError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let guard = self.lock();
        if guard.is_none() {
            return Err(ClientError::RuntimeShutDown);
        }
        Ok(self.handle.spawn_blocking(f))
    }

    /// Runs `future` to completion on this runtime, blocking the calling thread (for the
    /// synchronous entry points of bindings).
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] when called inside any tokio runtime,
    /// [`ClientError::RuntimeShutDown`] after shutdown.
    pub fn block_on<F: Future>(&self, future: F) -> Result<F::Output, ClientError> {
        if Handle::try_current().is_ok() {
            return Err(ClientError::BlockingInAsyncContext {
                op: "ClientRuntime::block_on",
            });
        }
        if self.is_shut_down() {
            return Err(ClientError::RuntimeShutDown);
        }
        Ok(self.handle.block_on(future))
    }

    /// Stops the runtime: running tasks are cancelled at their next `.await`, and this waits up
    /// to `timeout` for worker and blocking threads to finish. Idempotent: later calls return
    /// `Ok` at once.
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] when called inside any tokio runtime (including
    /// this one's worker and blocking threads); the runtime then keeps running.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ClientError> {
        if Handle::try_current().is_ok() {
            return Err(ClientError::BlockingInAsyncContext {
                op: "ClientRuntime::shutdown",
            });
        }
        let runtime = self.lock().take();
        if let Some(runtime) = runtime {
            runtime.shutdown_timeout(timeout);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Runtime>> {
        // Nothing panics while holding this lock, but recover from poison rather than panic.
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for ClientRuntime {
    fn drop(&mut self) {
        let runtime = self
            .runtime
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(runtime) = runtime {
            // Never blocks, and is allowed inside an async context (unlike dropping a Runtime).
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn small() -> RuntimeConfig {
        RuntimeConfig {
            worker_threads: 2,
            ..RuntimeConfig::default()
        }
    }

    #[test]
    fn runs_tasks_on_named_threads() {
        let rt = ClientRuntime::new(&small()).unwrap();
        let name = rt
            .block_on(async {
                tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                    .await
                    .unwrap()
            })
            .unwrap();
        assert_eq!(name.as_deref(), Some("qmq-core"));
        let v = rt.block_on(rt.spawn(async { 41 + 1 }).unwrap()).unwrap();
        assert_eq!(v.unwrap(), 42);
        rt.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn shutdown_from_inside_the_runtime_is_an_error_not_a_panic() {
        let rt = Arc::new(ClientRuntime::new(&small()).unwrap());
        let inner = rt.clone();
        let res = rt
            .block_on(async move {
                tokio::spawn(async move { inner.shutdown(Duration::from_secs(1)) })
                    .await
                    .unwrap()
            })
            .unwrap();
        assert!(matches!(
            res,
            Err(ClientError::BlockingInAsyncContext {
                op: "ClientRuntime::shutdown"
            })
        ));
        assert!(!rt.is_shut_down());
        let inner = rt.clone();
        let blocking = rt
            .block_on(async move {
                tokio::task::spawn_blocking(move || inner.shutdown(Duration::from_secs(1)))
                    .await
                    .unwrap()
            })
            .unwrap();
        assert!(blocking.is_err());
        rt.shutdown(Duration::from_secs(5)).unwrap();
        assert!(rt.is_shut_down());
    }

    #[test]
    fn block_on_inside_a_runtime_is_refused() {
        let rt = ClientRuntime::new(&small()).unwrap();
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let res = other.block_on(async { rt.block_on(async { 1 }) });
        assert!(matches!(
            res,
            Err(ClientError::BlockingInAsyncContext { .. })
        ));
    }

    #[test]
    fn shutdown_cancels_tasks_and_is_idempotent() {
        let rt = ClientRuntime::new(&small()).unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        rt.spawn(async move {
            std::future::pending::<()>().await;
            flag.store(true, Ordering::SeqCst);
        })
        .unwrap();
        rt.shutdown(Duration::from_secs(5)).unwrap();
        rt.shutdown(Duration::from_secs(5)).unwrap();
        assert!(!finished.load(Ordering::SeqCst));
        assert!(matches!(
            rt.spawn(async {}),
            Err(ClientError::RuntimeShutDown)
        ));
        assert!(matches!(
            rt.spawn_blocking(|| ()),
            Err(ClientError::RuntimeShutDown)
        ));
        assert!(matches!(
            rt.block_on(async {}),
            Err(ClientError::RuntimeShutDown)
        ));
    }

    #[test]
    fn dropping_inside_an_async_context_does_not_panic() {
        let rt = ClientRuntime::new(&small()).unwrap();
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        other.block_on(async move { drop(rt) });
    }

    #[test]
    fn bad_config_is_rejected() {
        let err = ClientRuntime::new(&RuntimeConfig {
            worker_threads: 0,
            ..RuntimeConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, ClientError::Config(ref e) if e.key() == "runtime.worker_threads"));
    }
}
