//! The pull API: the user asks for messages and acks each one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::delivery::{DeliveredMessage, Pulled, prepare};
use super::filter::Pipeline;
use super::options::ConsumeOptions;
use super::subscriber::Subscriber;
use crate::client::error::ClientError;

/// Received messages not yet returned by a pull.
struct PullState {
    rx: mpsc::Receiver<Pulled>,
    buffer: VecDeque<Pulled>,
}

/// A subscription consumed by explicit pulls. Dropping it stops it (without flushing acks;
/// call [`PullConsumer::close`] first for that).
pub struct PullConsumer {
    subscriber: Arc<Subscriber>,
    state: tokio::sync::Mutex<PullState>,
    pipeline: Arc<Pipeline>,
    handle: Handle,
    client_closed: CancellationToken,
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
        client_closed: CancellationToken,
    ) -> Self {
        let pipeline = Arc::new(Pipeline::new(
            &subscriber.spec.real_subject,
            &subscriber.spec.group,
            options.filters.clone(),
            options.idempotence.clone(),
        ));
        Self {
            subscriber,
            state: tokio::sync::Mutex::new(PullState {
                rx,
                buffer: VecDeque::new(),
            }),
            pipeline,
            handle,
            client_closed,
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
    /// (possibly nothing; fewer than `max` also when filters or the idempotence check skipped
    /// some). Concurrent calls are served one after the other. Each message must be acked
    /// (see [`DeliveredMessage`]); one dropped without an ack is failed, i.e. retried.
    ///
    /// Cancel safety: cancelling the future while it waits loses no message.
    ///
    /// # Errors
    /// [`ClientError::ConsumerStopped`] after [`PullConsumer::close`];
    /// [`ClientError::RuntimeShutDown`] once the owning client is closed.
    pub async fn pull(
        &self,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveredMessage>, ClientError> {
        if self.client_closed.is_cancelled() {
            return Err(ClientError::RuntimeShutDown);
        }
        if self.subscriber.is_stopped() {
            return Err(self.stopped());
        }
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().await;
        let state = &mut *state;
        let stop = self.subscriber.pull_stop().clone();
        // Messages wait in `state.buffer` until returned, so cancelling this future while it
        // waits loses nothing: the next call returns them.
        while state.buffer.len() < max {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(deadline) => break,
                next = state.rx.recv() => match next {
                    Some(p) => state.buffer.push_back(p),
                    None => break,
                },
            }
            while state.buffer.len() < max {
                match state.rx.try_recv() {
                    Ok(p) => state.buffer.push_back(p),
                    Err(_) => break,
                }
            }
        }
        let take = max.min(state.buffer.len());
        let batch: Vec<Pulled> = state.buffer.drain(..take).collect();
        if self.pipeline.is_empty() {
            return Ok(batch.into_iter().map(|p| p.into_delivered(None)).collect());
        }
        // Filters and idempotence stores are user code that may block. If this future is
        // cancelled now, the prepared messages are dropped on the blocking thread, i.e. failed
        // and retried.
        let pipeline = self.pipeline.clone();
        let out = self
            .handle
            .spawn_blocking(move || {
                batch
                    .into_iter()
                    .filter_map(|p| prepare(p, &pipeline))
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(|_| ClientError::RuntimeShutDown)?;
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
        if self.client_closed.is_cancelled() {
            return Err(ClientError::RuntimeShutDown);
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
        if self.client_closed.is_cancelled() {
            self.subscriber.abort();
            return Ok(());
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
