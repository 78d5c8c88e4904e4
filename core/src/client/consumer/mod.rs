//! The consumer (spec §4–§7, §12): a pull API and a listener API over the same machinery.
//!
//! * [`Consumer::pull_consumer`] gives a [`PullConsumer`]: `pull(n, timeout)` returns
//!   [`DeliveredMessage`]s, each completed once with `ack` / `ack_error` (dropping it counts as
//!   a failure).
//! * [`Consumer::subscribe`] runs a [`Handler`] on blocking threads, at most
//!   [`ConsumeOptions::concurrency`] at a time; `Ok` acks, `Err` (or a panic) retries. It returns
//!   a [`Subscription`] to stop.
//!
//! Per subscription, every broker group serving the subject is pulled, for the real subject
//! and for `%RETRY%<subject>%<group>` (not for broadcast), with long polls; acks cover the
//! contiguous completed prefix, one in flight per entry, with heartbeat acks when idle. Failed
//! messages are sent back as copies to the retry subject (dead-letter subject after the
//! maximum number of tries) and only then acked. Options add tags (AND / OR, server-side),
//! broadcast, at-most-once, consumer filters and an idempotence store.
//!
//! Invariants:
//! * user code (handlers, filters, idempotence stores) never runs on a runtime worker: the
//!   listener uses the runtime's blocking pool, the pull API runs `before` hooks there and
//!   `after` hooks on the thread that acks;
//! * every delivered message is completed exactly once (see [`delivery`]);
//! * nothing here blocks in `Drop`: dropping a [`PullConsumer`] or [`Subscription`] stops it
//!   without waiting (call `close` / `stopped` for a flush of the last acks).

mod ack_sender;
mod ack_tracker;
mod client_ext;
mod connections;
pub mod delivery;
mod entry;
pub mod filter;
pub mod host_outcome;
pub mod listener;
pub mod options;
pub mod pull_consumer;
mod send_back;
mod subscriber;

use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use delivery::{AckHandle, DeliveredMessage};
pub use filter::ConsumerFilter;
pub use listener::Subscription;
pub use options::{ConsumeOptions, Handler, HandlerError};
pub use pull_consumer::PullConsumer;

use self::connections::BrokerConnections;
use self::send_back::SendBack;
use self::subscriber::{Spec, Subscriber};
use super::config::ClientConfig;
use super::error::ClientError;
use super::ids::ClientId;
use super::meta_client::MetaClient;
use crate::protocol::names::is_valid_name;

/// The pieces a consumer runs on.
#[derive(Debug, Clone)]
pub struct ConsumerContext {
    /// The client runtime's handle; every task runs there.
    pub handle: Handle,
    /// The client configuration (its `consumer` and `connection` sections are used).
    pub config: ClientConfig,
    /// This client's id: the consumer id on the wire, and the group of broadcast consumers.
    pub client_id: ClientId,
    /// Meta registration and routes.
    pub meta: MetaClient,
}

/// What every subscription of a consumer shares.
pub(crate) struct ConsumerShared {
    pub(crate) handle: Handle,
    pub(crate) config: ClientConfig,
    pub(crate) client_id: ClientId,
    pub(crate) meta: MetaClient,
    pub(crate) connections: Arc<BrokerConnections>,
    pub(crate) send_back: SendBack,
    /// Cancelled when the owning client closes; blocking calls then fail instead of running
    /// on a runtime that is going away.
    pub(crate) client_closed: CancellationToken,
}

/// Creates pull consumers and subscriptions; cheap to clone.
#[derive(Clone)]
pub struct Consumer {
    shared: Arc<ConsumerShared>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("client_id", &self.shared.client_id)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer running on `context`.
    ///
    /// # Errors
    /// [`ClientError::Config`] if the configuration does not validate.
    pub fn new(context: ConsumerContext) -> Result<Self, ClientError> {
        Self::with_shutdown(context, None)
    }

    /// A consumer owned by a client whose closing cancels `client_closed`: every subscription
    /// then stops and the consumer's connections close.
    #[allow(
        dead_code,
        reason = "used by Client::consumer once the client handle lands"
    )]
    pub(crate) fn with_shutdown(
        context: ConsumerContext,
        client_closed: Option<CancellationToken>,
    ) -> Result<Self, ClientError> {
        context.config.validate()?;
        let connections = Arc::new(BrokerConnections::new(
            context.config.connection.clone(),
            context.handle.clone(),
        ));
        if let Some(closed) = &client_closed {
            let closed = closed.clone();
            let weak = Arc::downgrade(&connections);
            context.handle.spawn(async move {
                closed.cancelled().await;
                if let Some(connections) = weak.upgrade() {
                    connections.close_all();
                }
            });
        }
        let client_closed = client_closed.unwrap_or_default();
        let send_back = SendBack::new(
            context.meta.clone(),
            connections.clone(),
            context.config.consumer.retry_delay,
            context.config.producer.send_timeout,
        );
        Ok(Self {
            shared: Arc::new(ConsumerShared {
                handle: context.handle,
                config: context.config,
                client_id: context.client_id,
                meta: context.meta,
                connections,
                send_back,
                client_closed,
            }),
        })
    }

    /// The client id used as consumer id.
    pub fn client_id(&self) -> &ClientId {
        &self.shared.client_id
    }

    /// Starts consuming `subject` as `group` for the pull API.
    ///
    /// # Errors
    /// [`ClientError::InvalidName`] for a bad subject or group (a group may be empty only for
    /// broadcast), [`ClientError::Config`] for bad options.
    pub fn pull_consumer(
        &self,
        subject: &str,
        group: &str,
        options: ConsumeOptions,
    ) -> Result<PullConsumer, ClientError> {
        let spec = self.spec(subject, group, &options)?;
        let capacity = (self.shared.config.consumer.pull_batch_size as usize)
            .saturating_mul(2)
            .max(100);
        let (tx, rx) = mpsc::channel(capacity);
        let subscriber = Subscriber::start(self.shared.clone(), spec, tx);
        Ok(PullConsumer::new(
            subscriber,
            rx,
            &options,
            self.shared.handle.clone(),
            self.shared.client_closed.clone(),
        ))
    }

    /// Starts a listener: `handler` runs for each message of `subject` for `group`, at most
    /// `options.concurrency` at a time, on blocking threads.
    ///
    /// # Errors
    /// As [`Consumer::pull_consumer`].
    pub fn subscribe(
        &self,
        subject: &str,
        group: &str,
        options: ConsumeOptions,
        handler: Handler,
    ) -> Result<Subscription, ClientError> {
        let spec = self.spec(subject, group, &options)?;
        let capacity = options
            .concurrency
            .saturating_add(self.shared.config.consumer.pull_batch_size as usize);
        let (tx, rx) = mpsc::channel(capacity);
        let subscriber = Subscriber::start(self.shared.clone(), spec, tx);
        Ok(Subscription::start(
            subscriber,
            rx,
            &options,
            handler,
            self.shared.handle.clone(),
        ))
    }

    /// Closes the broker connections of this consumer (subscriptions should be stopped first).
    pub fn close(&self) {
        self.shared.connections.close_all();
    }

    fn spec(
        &self,
        subject: &str,
        group: &str,
        options: &ConsumeOptions,
    ) -> Result<Spec, ClientError> {
        options.validate()?;
        if !is_valid_name(subject) || subject.contains('%') {
            return Err(ClientError::InvalidName {
                what: "subject",
                name: subject.to_owned(),
            });
        }
        let group_ok = (options.broadcast && group.is_empty())
            || (is_valid_name(group) && !group.contains('%'));
        if !group_ok {
            return Err(ClientError::InvalidName {
                what: "group",
                name: group.to_owned(),
            });
        }
        let consumer_id = self.shared.client_id.as_str().to_owned();
        Ok(Spec {
            real_subject: subject.to_owned(),
            user_group: group.to_owned(),
            group: if options.broadcast {
                consumer_id.clone()
            } else {
                group.to_owned()
            },
            consumer_id,
            broadcast: options.broadcast,
            at_most_once: options.at_most_once,
            max_retry: options
                .max_retry
                .unwrap_or(self.shared.config.consumer.max_retry),
            pull_filters: options.pull_filters(),
        })
    }
}
