//! The producer: builds messages, queues them, batches them per (client type, subject), sends
//! them to brokers (or delay servers) with retries, and completes each one exactly once.
//!
//! Files: [`message`] (building a message), `queue` (the bound on pending messages),
//! `completion` (futures and callbacks), `batch` (grouping), `dispatcher` (queue → batches),
//! `sender` (one batch's attempts), `routing` (group choice and breakers).
//!
//! Invariants:
//! * at most `producer.queue_capacity` (10 000) messages are pending — queued, in flight or
//!   waiting to be resent; beyond that [`Producer::send`] fails at once with
//!   [`ClientError::QueueFull`], and [`Producer::send_with_backpressure`] waits. Nothing is
//!   dropped silently;
//! * each accepted message completes exactly once: a [`SendReceipt`] naming the broker group
//!   that stored it, or an error — also when the client closes or its runtime stops
//!   ([`ClientError::ProducerClosed`]);
//! * batches hold ≤ `producer.batch_size` (30) messages of one route; a batch makes
//!   ≤ `producer.send_tries` (10) attempts with [`Backoff`](crate::client::Backoff) between
//!   them;
//! * the producer lives on its client's runtime; when the [`Client`](crate::client::Client)
//!   is closed or dropped, sends fail with [`ClientError::ProducerClosed`].

mod batch;
mod completion;
mod dispatcher;
pub mod message;
mod queue;
mod routing;
mod sender;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc, oneshot};

pub use completion::{SendCallback, SendFuture, SendReceipt, SendResult};
pub use dispatcher::MAX_IN_FLIGHT_BATCHES;
pub use message::ProducerMessage;

use batch::{Envelope, RouteKey};
use completion::{Completer, Notify};
use message::WireMessage;
use queue::Gate;
use routing::Routing;

use super::client::ClientShared;
use super::config::ProducerConfig;
use super::error::ClientError;

/// State shared by the producer handle, its dispatcher and its sender tasks.
pub(crate) struct Core {
    shared: Arc<ClientShared>,
    config: ProducerConfig,
    gate: Arc<Gate>,
    in_flight: Arc<Semaphore>,
    routing: Routing,
}

struct Inner {
    core: Arc<Core>,
    tx: mpsc::UnboundedSender<Envelope>,
    closed: AtomicBool,
}

/// Sends messages; cheap to clone (all clones share one queue). Get it from
/// [`Client::producer`](crate::client::Client::producer).
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("pending", &self.pending())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// Starts the producer's dispatcher on the client's runtime.
    pub(crate) fn start(shared: Arc<ClientShared>) -> Self {
        let config = shared.config.producer.clone();
        let core = Arc::new(Core {
            gate: Arc::new(Gate::new(config.queue_capacity)),
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT_BATCHES)),
            routing: Routing::new(config.breaker),
            config,
            shared,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        // If the runtime is already gone the task is dropped with `rx`, and sends then fail
        // with ProducerClosed: no message can be accepted and lost.
        core.shared.handle.spawn(dispatcher::run(core.clone(), rx));
        Self {
            inner: Arc::new(Inner {
                core,
                tx,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// A new message for `subject` with a fresh QMQ message id, `qmq_createTime`,
    /// `qmq_expireTime` (+15 min) and `qmq_appCode` set.
    ///
    /// # Errors
    /// [`ClientError::InvalidName`] if the subject is empty or has `/` or whitespace.
    pub fn generate_message(&self, subject: &str) -> Result<ProducerMessage, ClientError> {
        let shared = &self.inner.core.shared;
        ProducerMessage::new(
            shared.ids.next_id(),
            subject,
            &shared.config.app_code,
            SystemTime::now(),
        )
    }

    /// A fresh QMQ message id, for bindings whose host builds the message object itself (Java's
    /// `generateMessage` returns a plain Java object) and hands it over at send time through
    /// [`Producer::message_with_id`].
    pub fn next_message_id(&self) -> String {
        self.inner.core.shared.ids.next_id()
    }

    /// Like [`Producer::generate_message`], with an id from [`Producer::next_message_id`] and
    /// the creation time the host recorded when it generated the message.
    ///
    /// # Errors
    /// [`ClientError::InvalidName`] for a bad subject, [`ClientError::InvalidMessage`] for an
    /// empty or over-long id, [`ClientError::InvalidScheduleTime`] for a time before 1970.
    pub fn message_with_id(
        &self,
        subject: &str,
        message_id: String,
        created: SystemTime,
    ) -> Result<ProducerMessage, ClientError> {
        ProducerMessage::new(
            message_id,
            subject,
            &self.inner.core.shared.config.app_code,
            created,
        )
    }

    /// Queues `message` and returns a future of its result. The message is queued when `send`
    /// returns — not when the future is first polled — and dropping the future does not cancel
    /// it. A full queue or a closed producer resolves the future at once with
    /// [`ClientError::QueueFull`] / [`ClientError::ProducerClosed`].
    pub fn send(&self, message: ProducerMessage) -> SendFuture {
        let wire = match self.prepare(message) {
            Ok(w) => w,
            Err(e) => return SendFuture::failed(e),
        };
        if let Err(e) = self.inner.core.gate.try_admit() {
            return SendFuture::failed(e);
        }
        let (tx, rx) = oneshot::channel();
        match self.enqueue(wire, Notify::Future(tx)) {
            Ok(()) => SendFuture::waiting(rx),
            Err(e) => SendFuture::failed(e),
        }
    }

    /// Like [`Producer::send`], but waits for room in the queue instead of failing with
    /// [`ClientError::QueueFull`] (back-pressure). Await it to get the message queued, then
    /// await the returned future for the result.
    ///
    /// # Errors
    /// Invalid messages, and [`ClientError::ProducerClosed`] if the producer closes while
    /// waiting.
    pub async fn send_with_backpressure(
        &self,
        message: ProducerMessage,
    ) -> Result<SendFuture, ClientError> {
        let wire = self.prepare(message)?;
        self.inner.core.gate.admit().await?;
        let (tx, rx) = oneshot::channel();
        self.enqueue(wire, Notify::Future(tx))?;
        Ok(SendFuture::waiting(rx))
    }

    /// Queues `message`; `callback` is called exactly once with its result, on a runtime
    /// thread (or, if the client is being torn down, on the thread doing it). The callback
    /// must not block: hand the result to your own thread or event loop.
    ///
    /// # Errors
    /// The message was not accepted ([`ClientError::QueueFull`],
    /// [`ClientError::ProducerClosed`], an invalid message); `callback` is then dropped without
    /// being called.
    pub fn send_with_callback(
        &self,
        message: ProducerMessage,
        callback: SendCallback,
    ) -> Result<(), ClientError> {
        let wire = self.prepare(message)?;
        self.inner.core.gate.try_admit()?;
        self.enqueue(wire, Notify::Callback(callback))
    }

    /// Sends `message` and blocks the calling thread until its result is known (up to
    /// `producer.send_tries` attempts).
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] when called from inside any async runtime;
    /// otherwise the send's own result.
    pub fn send_blocking(&self, message: ProducerMessage) -> SendResult {
        refuse_in_runtime("Producer::send_blocking")?;
        let wire = self.prepare(message)?;
        self.inner.core.gate.try_admit()?;
        let (tx, rx) = oneshot::channel();
        self.enqueue(wire, Notify::Future(tx))?;
        rx.blocking_recv()
            .unwrap_or(Err(ClientError::ProducerClosed))
    }

    /// Waits until every message accepted so far has completed, or `deadline` passes.
    ///
    /// # Errors
    /// [`ClientError::FlushTimeout`] with the number still pending.
    pub async fn flush(&self, deadline: Duration) -> Result<(), ClientError> {
        let gate = &self.inner.core.gate;
        match tokio::time::timeout(deadline, gate.wait_idle()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(ClientError::FlushTimeout {
                pending: gate.pending(),
                deadline,
            }),
        }
    }

    /// [`Producer::flush`] for synchronous callers; it does not need the runtime, so it also
    /// works while the client closes.
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] inside an async runtime, else as `flush`.
    pub fn flush_blocking(&self, deadline: Duration) -> Result<(), ClientError> {
        refuse_in_runtime("Producer::flush_blocking")?;
        let gate = &self.inner.core.gate;
        if gate.wait_idle_blocking(deadline) {
            Ok(())
        } else {
            Err(ClientError::FlushTimeout {
                pending: gate.pending(),
                deadline,
            })
        }
    }

    /// Messages accepted and not yet completed.
    pub fn pending(&self) -> usize {
        self.inner.core.gate.pending()
    }

    /// The client runtime, for blocking follow-up work (the outbox's row delete).
    pub(crate) fn runtime_handle(&self) -> &Handle {
        &self.inner.core.shared.handle
    }

    /// Stops accepting messages; those already accepted are still sent.
    pub(crate) fn begin_close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.core.gate.close();
    }

    fn prepare(&self, message: ProducerMessage) -> Result<WireMessage, ClientError> {
        if self.inner.closed.load(Ordering::Acquire) || self.inner.core.shared.is_shut_down() {
            return Err(ClientError::ProducerClosed);
        }
        message.into_wire(SystemTime::now())
    }

    /// Hands an admitted message to the dispatcher.
    fn enqueue(&self, wire: WireMessage, notify: Notify) -> Result<(), ClientError> {
        let env = Envelope {
            key: RouteKey {
                client_type: wire.client_type,
                subject: wire.subject,
            },
            message_id: wire.message_id,
            record: wire.record,
            completer: Completer::new(notify, self.inner.core.gate.clone()),
        };
        self.inner.tx.send(env).map_err(|returned| {
            // The dispatcher is gone: free the slot and do not fire (the caller gets the error).
            drop(returned.0.completer.disarm());
            ClientError::ProducerClosed
        })
    }
}

fn refuse_in_runtime(op: &'static str) -> Result<(), ClientError> {
    if Handle::try_current().is_ok() {
        return Err(ClientError::BlockingInAsyncContext { op });
    }
    Ok(())
}
