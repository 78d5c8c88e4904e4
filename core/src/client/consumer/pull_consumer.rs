//! The pull API: the user asks for messages and acks each one.

use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::delivery::{DeliveredMessage, Pulled, prepare};
use super::filter::Pipeline;
use super::options::ConsumeOptions;
use super::subscriber::Subscriber;
use crate::client::error::ClientError;

/// A subscription consumed by explicit pulls. Dropping it stops it (without flushing acks;
/// call [`PullConsumer::close`] first for that).
pub struct PullConsumer {
    subscriber: Arc<Subscriber>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Pulled>>,
    pipeline: Arc<Pipeline>,
    handle: Handle,
}

impl std::fmt::Debug for PullConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullConsumer")
            .field("subject", &self.subscriber.spec.real_subject)
            .field("group", &self.subscriber.spec.group)
            .finish_non_exhaustive()
    }
}

impl PullConsumer {
    pub(crate) fn new(
        subscriber: Arc<Subscriber>,
        rx: mpsc::Receiver<Pulled>,
        options: &ConsumeOptions,
        handle: Handle,
    ) -> Self {
        let pipeline = Arc::new(Pipeline::new(
            &subscriber.spec.real_subject,
            &subscriber.spec.group,
            options.filters.clone(),
            options.idempotence.clone(),
        ));
        Self {
            subscriber,
            rx: tokio::sync::Mutex::new(rx),
            pipeline,
            handle,
        }
    }

    /// The subject consumed.
    pub fn subject(&self) -> &str {
        &self.subscriber.spec.real_subject
    }

    /// The consumer group on the wire (the client id for broadcast).
    pub fn group(&self) -> &str {
        &self.subscriber.spec.group
    }

    /// Waits until `max` messages are available or `timeout` passed, and returns what arrived
    /// (possibly nothing). Concurrent calls are served one after the other. Each message must
    /// be acked (see [`DeliveredMessage`]).
    ///
    /// # Errors
    /// [`ClientError::ConsumerStopped`] after [`PullConsumer::close`];
    /// [`ClientError::RuntimeShutDown`] if the client runtime is gone.
    pub async fn pull(
        &self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveredMessage>, ClientError> {
        if self.subscriber.is_stopped() {
            return Err(self.stopped());
        }
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        let deadline = Instant::now() + timeout;
        let mut rx = self.rx.lock().await;
        let stop = self.subscriber.pull_stop().clone();
        while out.len() < max {
            let first = tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                next = rx.recv() => match next {
                    Some(p) => p,
                    None => break,
                },
            };
            let mut batch = vec![first];
            while out.len() + batch.len() < max {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            if self.pipeline.is_empty() {
                out.extend(batch.into_iter().map(|p| p.into_delivered(None)));
                continue;
            }
            // Filters and idempotence stores are user code that may block.
            let pipeline = self.pipeline.clone();
            let prepared = self
                .handle
                .spawn_blocking(move || {
                    batch
                        .into_iter()
                        .filter_map(|p| prepare(p, &pipeline))
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(|_| ClientError::RuntimeShutDown)?;
            out.extend(prepared);
        }
        Ok(out)
    }

    /// [`PullConsumer::pull`] for synchronous callers.
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] when called inside an async runtime; otherwise
    /// as [`PullConsumer::pull`].
    pub fn pull_blocking(
        &self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveredMessage>, ClientError> {
        if Handle::try_current().is_ok() {
            return Err(ClientError::BlockingInAsyncContext {
                op: "PullConsumer::pull_blocking",
            });
        }
        self.handle.block_on(self.pull(max, timeout))
    }

    /// Stops pulling, sends the acks of what was completed so far, and waits for the consumer's
    /// tasks (a few seconds at most). Messages still unacked are redelivered by the broker
    /// later. Later pulls fail with [`ClientError::ConsumerStopped`].
    pub async fn close(&self) {
        self.subscriber.stop_pulling();
        self.subscriber.finish().await;
    }

    /// [`PullConsumer::close`] for synchronous callers.
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] when called inside an async runtime.
    pub fn close_blocking(&self) -> Result<(), ClientError> {
        if Handle::try_current().is_ok() {
            return Err(ClientError::BlockingInAsyncContext {
                op: "PullConsumer::close_blocking",
            });
        }
        self.handle.block_on(self.close());
        Ok(())
    }

    fn stopped(&self) -> ClientError {
        ClientError::ConsumerStopped {
            subject: self.subscriber.spec.real_subject.clone(),
            group: self.subscriber.spec.group.clone(),
        }
    }
}

impl Drop for PullConsumer {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}
