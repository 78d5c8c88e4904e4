//! `qmq-server standalone`: meta, broker and delay in one process, plus the watchdog when
//! `[watchdog]` lists databases.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::roles::{BrokerRole, DelayRole, MetaRole, StartError, WatchdogRole, bind};
use super::runtime_files::{self, BoundPorts};
pub use super::server_config::ServerConfig;

/// A running standalone server.
pub struct StandaloneServer {
    /// The ports bound.
    pub ports: BoundPorts,
    config: ServerConfig,
    shutdown: CancellationToken,
    meta_shutdown: CancellationToken,
    meta: MetaRole,
    broker: BrokerRole,
    delay: DelayRole,
    watchdog: Option<WatchdogRole>,
}

impl StandaloneServer {
    /// Binds every port, starts every role, waits until the broker is routable, and writes
    /// `<data>/runtime/`.
    ///
    /// # Errors
    /// Invalid configuration, busy ports, unreadable data.
    pub async fn start(config: ServerConfig) -> Result<Self, StartError> {
        config.validate()?;
        let host = config.server.host.clone();
        let http = bind("meta http", &host, config.meta.http_port).await?;
        let tcp = bind("meta tcp", &host, config.meta.tcp_port).await?;
        let broker_listener = bind("broker", &host, config.broker.port).await?;
        let delay_listener = bind("delay", &host, config.delay.port).await?;
        let shutdown = CancellationToken::new();
        // Meta stops last, so broker and delay can still say OFFLINE to it.
        let meta_shutdown = CancellationToken::new();
        let meta = MetaRole::start(&config, http, tcp, &meta_shutdown).await?;
        let meta_tcp = SocketAddr::from(([127, 0, 0, 1], meta.tcp_port));
        let meta_tcp = match host.parse::<std::net::IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => SocketAddr::new(ip, meta.tcp_port),
            _ => meta_tcp,
        };
        let broker = BrokerRole::start(&config, broker_listener, meta_tcp, &shutdown).await?;
        let delay = DelayRole::start(&config, delay_listener, meta_tcp, &shutdown).await?;
        // Hold "ready" until meta can route to broker and delay server, so a client's first
        // send works.
        for _ in 0..500 {
            if meta.knows_group(broker.group_name()) && meta.knows_group(delay.group_name()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let ports = BoundPorts {
            meta_http: Some(meta.http_port),
            meta_tcp: Some(meta.tcp_port),
            broker: Some(broker.port),
            delay: Some(delay.port),
        };
        if let Err(err) = runtime_files::write(&config.server.data_dir, &ports, &config) {
            tracing::warn!(cause = %err, "cannot write the runtime directory");
        }
        let watchdog = if config.watchdog.databases.is_empty() {
            None
        } else {
            Some(WatchdogRole::start(
                &config,
                &local_meta_url(&config, &ports),
            )?)
        };
        Ok(Self {
            ports,
            config,
            shutdown,
            meta_shutdown,
            meta,
            broker,
            delay,
            watchdog,
        })
    }

    /// The discovery URL clients use: `http://<host>:<port>/meta/address`.
    pub fn meta_url(&self) -> String {
        local_meta_url(&self.config, &self.ports)
    }

    /// Whether the watchdog role runs in this process.
    pub fn has_watchdog(&self) -> bool {
        self.watchdog.is_some()
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Stops every role: listeners first, then the delay store, broker checkpoints, and last
    /// the meta state.
    pub async fn shutdown(self) {
        if let Some(watchdog) = self.watchdog {
            watchdog.stop().await;
        }
        self.shutdown.cancel();
        self.delay.stop().await;
        self.broker.stop().await;
        self.meta_shutdown.cancel();
        self.meta.stop().await;
    }
}

fn local_meta_url(config: &ServerConfig, ports: &BoundPorts) -> String {
    let host = match config.server.host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1",
        host => host,
    };
    format!(
        "http://{host}:{}/meta/address",
        ports.meta_http.unwrap_or_default()
    )
}
