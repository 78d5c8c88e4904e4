//! [`Broker`]: the broker role as a [`FrameHandler`] over its store.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use qmq_core::protocol::{Frame, RequestCode};
use tracing::info;

use super::config::BrokerConfig;
use super::consumer::ConsumerManager;
use super::error::BrokerError;
use super::handler;
use super::store::{Background, Store};
use crate::net::FrameHandler;
use crate::registration::Registration;
use qmq_core::protocol::BrokerRole;

/// Name of the store directory inside the data directory.
pub const STORE_DIR: &str = "broker";

/// The broker role: SEND / PULL / ACK / CONSUME_MANAGE over a [`Store`]. Cheap to clone; clones
/// share everything.
#[derive(Debug, Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: BrokerConfig,
    store: Arc<Store>,
    consumers: Arc<ConsumerManager>,
    background: Mutex<Option<Background>>,
}

impl Broker {
    /// Validates `config`, opens and recovers the store in `<data_dir>/broker` and starts its
    /// background flush / checkpoint / retention thread. Blocking (recovery reads the logs).
    ///
    /// # Errors
    /// Invalid configuration, store recovery failures.
    pub fn open(config: BrokerConfig, data_dir: &Path) -> Result<Broker, BrokerError> {
        config.validate().map_err(BrokerError::Config)?;
        let store = Arc::new(Store::open(
            config.store_config(),
            &data_dir.join(STORE_DIR),
        )?);
        let background = store.start_background()?;
        let consumers = Arc::new(ConsumerManager::new(
            Arc::clone(&store),
            config.retry_delay(),
        ));
        info!(group = %config.group_name, "broker opened");
        Ok(Broker {
            inner: Arc::new(Inner {
                config,
                store,
                consumers,
                background: Mutex::new(Some(background)),
            }),
        })
    }

    /// Clean shutdown: stops the background thread, flushes and writes the checkpoints.
    /// Blocking. Requests still served afterwards work but are only made durable by a later
    /// shutdown or recovery.
    ///
    /// # Errors
    /// Flush or checkpoint failures.
    pub fn shutdown(&self) -> Result<(), BrokerError> {
        let background = self
            .inner
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(background);
        self.inner.store.close()?;
        info!(group = %self.inner.config.group_name, "broker shut down");
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    /// The consumer logic.
    pub fn consumers(&self) -> &Arc<ConsumerManager> {
        &self.inner.consumers
    }

    /// What to register with meta, given the `ip:port` clients reach this broker at.
    pub fn registration(&self, broker_address: impl Into<String>) -> Registration {
        Registration {
            group_name: self.inner.config.group_name.clone(),
            address: broker_address.into(),
            role: BrokerRole::Master,
            heartbeat_interval: self.inner.config.meta_heartbeat_interval(),
        }
    }
}

impl FrameHandler for Broker {
    fn handle(
        &self,
        request: Frame,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Frame>> + Send + '_ {
        handler::dispatch(self, request, peer)
    }

    fn accepts(&self, code: RequestCode) -> bool {
        matches!(
            code,
            RequestCode::SendMessage
                | RequestCode::PullMessage
                | RequestCode::AckRequest
                | RequestCode::ConsumeManage
        )
    }
}
