//! The listener API: a handler runs for every message, on blocking threads, with a concurrency
//! limit.
//!
//! A dispatcher task takes a permit of the subscription's semaphore, then the next message,
//! and runs pipeline + handler + ack on the runtime's blocking pool (never on an async
//! worker: handlers may block and may call into host languages). Stopping ends the pulls,
//! waits for running handlers, flushes the acks and ends every task.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::delivery::{Pulled, prepare};
use super::filter::Pipeline;
use super::options::{ConsumeOptions, Handler, HandlerError};
use super::subscriber::Subscriber;

/// A running listener. Dropping it stops it without waiting; [`Subscription::stop`] plus
/// [`Subscription::stopped`] stop it gracefully.
pub struct Subscription {
    subscriber: Arc<Subscriber>,
    done: CancellationToken,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("subject", &self.subscriber.spec.real_subject)
            .field("group", &self.subscriber.spec.group)
            .field("stopped", &self.done.is_cancelled())
            .finish()
    }
}

impl Subscription {
    pub(crate) fn start(
        subscriber: Arc<Subscriber>,
        rx: mpsc::Receiver<Pulled>,
        options: &ConsumeOptions,
        handler: Handler,
        handle: Handle,
    ) -> Self {
        let pipeline = Arc::new(Pipeline::new(
            &subscriber.spec.real_subject,
            &subscriber.spec.group,
            options.filters.clone(),
            options.idempotence.clone(),
        ));
        let done = CancellationToken::new();
        let dispatcher = Dispatcher {
            subscriber: subscriber.clone(),
            rx,
            pipeline,
            handler,
            concurrency: options.concurrency,
            handle: handle.clone(),
            done: done.clone(),
        };
        handle.spawn(dispatcher.run());
        Self { subscriber, done }
    }

    /// The subject consumed.
    pub fn subject(&self) -> &str {
        &self.subscriber.spec.real_subject
    }

    /// The consumer group on the wire (the client id for broadcast).
    pub fn group(&self) -> &str {
        &self.subscriber.spec.group
    }

    /// Begins a graceful stop: no more pulls; running handlers finish and their acks are
    /// sent. Never blocks; await [`Subscription::stopped`] to wait for the end.
    pub fn stop(&self) {
        self.subscriber.stop_pulling();
    }

    /// Resolves once the subscription has fully stopped (after [`Subscription::stop`]).
    pub async fn stopped(&self) {
        self.done.cancelled().await;
    }

    /// Whether the subscription has fully stopped.
    pub fn is_stopped(&self) -> bool {
        self.done.is_cancelled()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if !self.done.is_cancelled() {
            self.subscriber.abort();
        }
    }
}

struct Dispatcher {
    subscriber: Arc<Subscriber>,
    rx: mpsc::Receiver<Pulled>,
    pipeline: Arc<Pipeline>,
    handler: Handler,
    concurrency: usize,
    handle: Handle,
    done: CancellationToken,
}

impl Dispatcher {
    async fn run(mut self) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let stop = self.subscriber.pull_stop().clone();
        loop {
            let permit = tokio::select! {
                _ = stop.cancelled() => break,
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let pulled = tokio::select! {
                _ = stop.cancelled() => break,
                p = self.rx.recv() => match p {
                    Some(p) => p,
                    None => break,
                },
            };
            // A blocking-pool hand-off costs a thread wake-up, so a worker takes its fair share
            // of what is already queued (never more, so slow handlers still run in parallel).
            let share = (self.rx.len() / self.concurrency).min(MAX_BATCH - 1);
            let mut batch = Vec::with_capacity(share + 1);
            batch.push(pulled);
            while batch.len() <= share {
                match self.rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let pipeline = self.pipeline.clone();
            let handler = self.handler.clone();
            // If the runtime is shutting down the closure is dropped: the messages stay
            // unacked and the broker redelivers them.
            drop(self.handle.spawn_blocking(move || {
                for pulled in batch {
                    process(pulled, &pipeline, &handler);
                }
                drop(permit);
            }));
        }
        // Close the channel first so that pull loops blocked on a full channel end.
        self.rx.close();
        let all = u32::try_from(self.concurrency).unwrap_or(u32::MAX);
        let _ = permits.acquire_many(all).await;
        self.subscriber.finish().await;
        self.done.cancel();
    }
}

/// Most messages one blocking-pool task handles in a row.
const MAX_BATCH: usize = 32;

/// Pipeline, handler and ack of one message (on a blocking thread).
fn process(pulled: Pulled, pipeline: &Arc<Pipeline>, handler: &Handler) {
    let Some(delivered) = prepare(pulled, pipeline) else {
        return;
    };
    let result = catch_unwind(AssertUnwindSafe(|| handler(delivered.message())))
        .unwrap_or_else(|_| Err(HandlerError::new("handler panicked")));
    delivered.ack_result(result);
}
