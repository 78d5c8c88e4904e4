//! Starting each role on already-bound listeners (the watchdog has none), and stopping it
//! again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::server_config::ServerConfig;
use qmq_core::client::HostPort;

use crate::broker::Broker;
use crate::delay::DelayServer;
use crate::meta::{MetaServer, advertised_address, serve_http};
use crate::net;
use crate::registration;
use crate::watchdog::Watchdog;

/// Why a role could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A listener could not be bound.
    #[error("cannot bind {what} on {addr}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The meta role failed to open its state.
    #[error(transparent)]
    Meta(#[from] crate::meta::MetaError),
    /// The broker role failed to open its store.
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
    /// The delay role failed to open its store.
    #[error(transparent)]
    Delay(#[from] crate::delay::DelayError),
    /// The watchdog role could not start.
    #[error(transparent)]
    Watchdog(#[from] crate::watchdog::WatchdogError),
    /// The meta server could not be located.
    #[error("cannot locate the meta server at {url}: {reason}")]
    MetaUnreachable {
        /// The discovery URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A blocking start-up step panicked or was cancelled.
    #[error("start-up task failed: {0}")]
    Task(String),
}

/// Binds `host:port` (port 0 picks a free one).
///
/// # Errors
/// [`StartError::Bind`].
pub async fn bind(what: &'static str, host: &str, port: u16) -> Result<TcpListener, StartError> {
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr)
        .await
        .map_err(|source| StartError::Bind { what, addr, source })
}

fn host_port(addr: SocketAddr) -> Result<HostPort, StartError> {
    HostPort::new(addr.ip().to_string(), addr.port()).map_err(|e| StartError::MetaUnreachable {
        url: addr.to_string(),
        reason: e.to_string(),
    })
}

/// Runs a role's blocking shutdown (flush, checkpoint) off the async threads and logs a failure:
/// at that point there is nobody left to return it to.
async fn shut_down_blocking<E: std::fmt::Display + Send + 'static>(
    role: &'static str,
    shutdown: impl FnOnce() -> Result<(), E> + Send + 'static,
) {
    match tokio::task::spawn_blocking(shutdown).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(role, cause = %err, "shutdown failed"),
        Err(err) => tracing::error!(role, cause = %err, "shutdown task failed"),
    }
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().map(|a| a.port()).unwrap_or(0)
}

/// A running meta role.
pub struct MetaRole {
    server: MetaServer,
    tasks: Vec<JoinHandle<()>>,
    /// The bound HTTP port.
    pub http_port: u16,
    /// The bound TCP port.
    pub tcp_port: u16,
}

impl MetaRole {
    /// Opens the meta state and serves HTTP discovery and the TCP protocol.
    ///
    /// # Errors
    /// State or bind failures.
    pub async fn start(
        config: &ServerConfig,
        http: TcpListener,
        tcp: TcpListener,
        shutdown: &CancellationToken,
    ) -> Result<Self, StartError> {
        let meta_config = config.meta.clone();
        let data_dir = config.server.data_dir.clone();
        let server = tokio::task::spawn_blocking(move || MetaServer::open(meta_config, &data_dir))
            .await
            .map_err(|e| StartError::Task(e.to_string()))??;
        let http_port = port_of(&http);
        let tcp_port = port_of(&tcp);
        let http_addr = http
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], http_port)));
        let advertised_host = config
            .meta
            .advertised_host
            .clone()
            .unwrap_or_else(|| config.advertised_host());
        let advertised = advertised_address(Some(&advertised_host), http_addr, tcp_port);
        let tasks = vec![
            tokio::spawn(net::serve(
                tcp,
                Arc::new(server.handler()),
                config.net.clone(),
                shutdown.clone(),
            )),
            tokio::spawn(serve_http(http, advertised, shutdown.clone())),
            server.spawn_maintenance(shutdown.clone()),
        ];
        info!(http_port, tcp_port, "meta role started");
        Ok(Self {
            server,
            tasks,
            http_port,
            tcp_port,
        })
    }

    /// Waits for the role's tasks (after the shutdown token fired) and persists its state.
    pub async fn stop(self) {
        for task in self.tasks {
            let _ = task.await;
        }
        if let Err(err) = self.server.shutdown().await {
            tracing::error!(cause = %err, "meta state not saved at shutdown");
        }
    }

    /// Whether a broker group is registered (used to hold the ready line until routable).
    pub fn knows_group(&self, group: &str) -> bool {
        self.server.snapshot().groups().contains_key(group)
    }
}

/// A running broker role.
pub struct BrokerRole {
    broker: Broker,
    tasks: Vec<JoinHandle<()>>,
    registration_token: CancellationToken,
    registration: Option<JoinHandle<()>>,
    /// The bound client port.
    pub port: u16,
}

impl BrokerRole {
    /// Opens the store, serves clients, and registers with the meta server at `meta_tcp`.
    ///
    /// # Errors
    /// Store failures.
    pub async fn start(
        config: &ServerConfig,
        listener: TcpListener,
        meta_tcp: SocketAddr,
        shutdown: &CancellationToken,
    ) -> Result<Self, StartError> {
        let broker_config = config.broker.clone();
        let data_dir = config.server.data_dir.clone();
        let broker = tokio::task::spawn_blocking(move || Broker::open(broker_config, &data_dir))
            .await
            .map_err(|e| StartError::Task(e.to_string()))??;
        let port = port_of(&listener);
        let address = format!("{}:{port}", config.advertised_host());
        // Registration stops only after the listener, so meta hears OFFLINE last.
        let registration_token = CancellationToken::new();
        let meta = host_port(meta_tcp)?;
        let registration = tokio::spawn(registration::run(
            meta,
            broker.registration(address),
            registration_token.clone(),
        ));
        let tasks = vec![tokio::spawn(net::serve(
            listener,
            Arc::new(broker.clone()),
            config.net.clone(),
            shutdown.clone(),
        ))];
        info!(port, group = %config.broker.group_name, "broker role started");
        Ok(Self {
            broker,
            tasks,
            registration_token,
            registration: Some(registration),
            port,
        })
    }

    /// The broker group name.
    pub fn group_name(&self) -> &str {
        &self.broker.config().group_name
    }

    /// Waits for the listener to drain, says OFFLINE to meta, and checkpoints the store.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.registration_token.cancel();
        if let Some(registration) = self.registration.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), registration).await;
        }
        let broker = self.broker.clone();
        shut_down_blocking("broker", move || broker.shutdown()).await;
    }
}

/// A running delay role.
pub struct DelayRole {
    server: DelayServer,
    tasks: Vec<JoinHandle<()>>,
    /// The bound port.
    pub port: u16,
}

impl DelayRole {
    /// Opens the delay store, serves delay producers, dispatches due messages to brokers found
    /// through meta at `meta_tcp`, and registers with meta as a delay server.
    ///
    /// # Errors
    /// Store failures.
    pub async fn start(
        config: &ServerConfig,
        listener: TcpListener,
        meta_tcp: SocketAddr,
        shutdown: &CancellationToken,
    ) -> Result<Self, StartError> {
        let delay_config = config.delay.clone();
        let data_dir = config.server.data_dir.clone();
        let server =
            tokio::task::spawn_blocking(move || DelayServer::open(delay_config, &data_dir))
                .await
                .map_err(|e| StartError::Task(e.to_string()))??;
        let port = port_of(&listener);
        let meta = host_port(meta_tcp)?;
        server.start(
            meta,
            format!("{}:{port}", config.advertised_host()),
            shutdown,
        );
        let tasks = vec![tokio::spawn(net::serve(
            listener,
            Arc::new(server.clone()),
            config.net.clone(),
            shutdown.clone(),
        ))];
        info!(port, group = %config.delay.group_name, "delay role started");
        Ok(Self {
            server,
            tasks,
            port,
        })
    }

    /// The delay group name.
    pub fn group_name(&self) -> &str {
        &self.server.config().group_name
    }

    /// Waits for the listener and the dispatch loop, unregisters, and syncs the store.
    pub async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.server.stop().await;
        let server = self.server.clone();
        shut_down_blocking("delay", move || server.shutdown()).await;
    }
}

/// A running watchdog role (no listener: it only sends).
pub struct WatchdogRole {
    watchdog: Watchdog,
}

impl WatchdogRole {
    /// Starts one worker per database in `[watchdog]`, sending through the cluster whose
    /// discovery URL is `meta_url`. Must run inside the server's runtime.
    ///
    /// # Errors
    /// An invalid `[watchdog]` section, or the producer cannot start.
    pub fn start(config: &ServerConfig, meta_url: &str) -> Result<Self, StartError> {
        let watchdog = Watchdog::start(
            &config.watchdog,
            meta_url,
            tokio::runtime::Handle::current(),
        )?;
        info!(databases = watchdog.databases(), "watchdog role started");
        Ok(Self { watchdog })
    }

    /// Stops the workers and the producer.
    pub async fn stop(self) {
        self.watchdog.stop().await;
    }
}
