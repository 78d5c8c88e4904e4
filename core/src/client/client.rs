//! `Client`: the handle a host creates first. It owns the tokio runtime, the client id, the
//! message-id generator, the meta client and the broker connection pool, and hands out the
//! producer (and, through [`ClientShared`], what the consumer needs).
//!
//! Invariants:
//! * the runtime is owned by the `Client` alone; producers and consumers hold only its
//!   [`Handle`], so closing or dropping the `Client` stops everything — later sends fail with
//!   [`ClientError::ProducerClosed`], never hang;
//! * [`Client::close`] stops accepting messages, waits up to its deadline for pending sends,
//!   then cancels every task (unfinished sends complete with `ProducerClosed`), closes meta and
//!   broker connections, and stops the runtime. It is idempotent;
//! * blocking entry points refuse to run inside an async runtime
//!   ([`ClientError::BlockingInAsyncContext`]) instead of panicking or deadlocking;
//! * dropping a `Client` never blocks: tasks are cancelled and the runtime is shut down in the
//!   background.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::config::ClientConfig;
use super::error::ClientError;
use super::ids::{ClientId, MessageIdGenerator};
use super::meta_client::MetaClient;
use super::pool::ConnectionPool;
use super::producer::Producer;
use super::runtime::ClientRuntime;

/// What producers and consumers of one client share.
#[derive(Debug)]
pub(crate) struct ClientShared {
    /// The client runtime; spawn every task here.
    pub(crate) handle: Handle,
    /// The validated configuration.
    pub(crate) config: ClientConfig,
    /// This client's id (consumer pull-log owner, broadcast group).
    pub(crate) client_id: ClientId,
    /// Message ids in QMQ's format.
    pub(crate) ids: MessageIdGenerator,
    /// Registration and route cache.
    pub(crate) meta: MetaClient,
    /// One connection per broker address.
    pub(crate) pool: ConnectionPool,
    /// Cancelled when the client closes or is dropped; every task selects on it.
    pub(crate) shutdown: CancellationToken,
}

impl ClientShared {
    /// Whether the client is closing or closed.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Cancels every task and closes every connection. Never blocks.
    fn stop(&self) {
        self.shutdown.cancel();
        self.meta.close();
        self.pool.close_all();
    }
}

struct Inner {
    runtime: ClientRuntime,
    shared: Arc<ClientShared>,
    producer: Producer,
    closed: AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shared.stop();
        // `ClientRuntime`'s own Drop shuts the runtime down in the background.
    }
}

/// A connection to one QMQ cluster; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.inner.shared.client_id)
            .field("meta_url", &self.inner.shared.config.meta.url)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Validates `config`, starts the client's own runtime and its producer. Nothing is sent
    /// to meta until the first message or subscription. Usable from any thread, including
    /// inside an async runtime.
    ///
    /// # Errors
    /// [`ClientError::Config`] for a bad configuration (e.g. no `app_code`, a meta URL that is
    /// not `http://host:port/path`), [`ClientError::RuntimeBuild`] if threads cannot start.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        config.validate()?;
        let runtime = ClientRuntime::new(&config.runtime)?;
        let handle = runtime.handle().clone();
        let client_id = match &config.client_id {
            Some(id) => ClientId::from_string(id.clone()),
            None => ClientId::generate(),
        };
        let meta = MetaClient::new(&config, client_id.clone(), handle.clone())?;
        let shared = Arc::new(ClientShared {
            ids: MessageIdGenerator::new(config.local_ip),
            pool: ConnectionPool::new(config.connection.clone(), handle.clone()),
            handle,
            client_id,
            meta,
            config,
            shutdown: CancellationToken::new(),
        });
        let producer = Producer::start(shared.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                runtime,
                shared,
                producer,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The producer of this client (every call returns a clone of the same one).
    pub fn producer(&self) -> Producer {
        self.inner.producer.clone()
    }

    /// This client's id, `<hostname>@@<hex>` (spec §8).
    pub fn client_id(&self) -> &ClientId {
        &self.inner.shared.client_id
    }

    /// The configuration in force.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.shared.config
    }

    /// The meta client (routes, registrations).
    pub fn meta(&self) -> &MetaClient {
        &self.inner.shared.meta
    }

    /// Whether [`Client::close`] or [`Client::close_async`] has started.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Closes the client from a synchronous thread: stops accepting messages, waits up to
    /// `deadline` for pending sends, then stops every task and the runtime (waiting at most the
    /// rest of `deadline`, and at least 100 ms, for its threads). Messages still pending then
    /// complete with [`ClientError::ProducerClosed`]. Later calls return `Ok(())` at once.
    ///
    /// # Errors
    /// [`ClientError::BlockingInAsyncContext`] inside an async runtime (nothing is closed; use
    /// [`Client::close_async`] there); [`ClientError::FlushTimeout`] if messages were still
    /// pending at the deadline (the client is closed anyway).
    pub fn close(&self, deadline: Duration) -> Result<(), ClientError> {
        if Handle::try_current().is_ok() {
            return Err(ClientError::BlockingInAsyncContext {
                op: "Client::close",
            });
        }
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let start = Instant::now();
        let producer = &self.inner.producer;
        producer.begin_close();
        let flushed = producer.flush_blocking(deadline);
        self.inner.shared.stop();
        let rest = deadline
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(100));
        self.inner.runtime.shutdown(rest)?;
        flushed
    }

    /// Closes the client from async code: as [`Client::close`], except that the runtime's
    /// threads are left to exit in the background (they have no work left) rather than joined.
    ///
    /// # Errors
    /// [`ClientError::FlushTimeout`] if messages were still pending at the deadline.
    pub async fn close_async(&self, deadline: Duration) -> Result<(), ClientError> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let producer = &self.inner.producer;
        producer.begin_close();
        let flushed = producer.flush(deadline).await;
        self.inner.shared.stop();
        flushed
    }

    /// What the consumer needs from its client.
    pub(crate) fn shared(&self) -> Arc<ClientShared> {
        self.inner.shared.clone()
    }
}
