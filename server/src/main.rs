//! `qmq-server`: a QMQ-compatible message queue server.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use qmq_core::client::{LocatorConfig, MetaLocator};
use qmq_server::app::roles;
use qmq_server::app::runtime_files::{self, BoundPorts};
use qmq_server::app::server_config::ServerConfig;
use qmq_server::app::standalone::StandaloneServer;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "qmq-server",
    version,
    about = "QMQ-compatible message queue server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run meta and broker in one process with defaults that just work.
    Standalone(StandaloneArgs),
    /// Run the meta role (discovery, registration, routing).
    Meta(RoleArgs),
    /// Run the broker role; it registers itself with the meta server in `server.meta_url`.
    Broker(RoleArgs),
    /// Run the delay role; it registers with meta and hands due messages to brokers.
    Delay(RoleArgs),
    /// Run the watchdog: resend transactional messages left in the `[watchdog]` databases'
    /// outbox tables, through the cluster at `server.meta_url`.
    Watchdog(RoleArgs),
}

#[derive(Args)]
struct RoleArgs {
    /// Config file (TOML); `QMQ_<SECTION>_<KEY>` environment variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct StandaloneArgs {
    /// Config file (TOML); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to bind.
    #[arg(long)]
    host: Option<String>,
    /// Meta HTTP discovery port (0 = any free port).
    #[arg(long)]
    meta_http_port: Option<u16>,
    /// Meta TCP port (0 = any free port).
    #[arg(long)]
    meta_tcp_port: Option<u16>,
    /// Broker port (0 = any free port).
    #[arg(long)]
    broker_port: Option<u16>,
    /// Delay server port (0 = any free port).
    #[arg(long)]
    delay_port: Option<u16>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qmq-server")
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.command {
        Command::Standalone(args) => runtime.block_on(standalone(args)),
        Command::Meta(args) => runtime.block_on(meta(args)),
        Command::Broker(args) => runtime.block_on(broker(args)),
        Command::Delay(args) => runtime.block_on(delay(args)),
        Command::Watchdog(args) => runtime.block_on(watchdog(args)),
    }
}

async fn standalone(args: StandaloneArgs) -> anyhow::Result<()> {
    let mut config = ServerConfig::load(args.config.as_deref())?;
    if let Some(dir) = args.data_dir {
        config.server.data_dir = dir;
    }
    if let Some(host) = args.host {
        config.server.host = host;
    }
    if let Some(port) = args.meta_http_port {
        config.meta.http_port = port;
    }
    if let Some(port) = args.meta_tcp_port {
        config.meta.tcp_port = port;
    }
    if let Some(port) = args.broker_port {
        config.broker.port = port;
    }
    if let Some(port) = args.delay_port {
        config.delay.port = port;
    }
    let server = StandaloneServer::start(config)
        .await
        .context("cannot start qmq-server standalone")?;
    println!("{}", server.ports.ready_line());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

async fn meta(args: RoleArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(args.config.as_deref())?;
    config.validate()?;
    let host = &config.server.host;
    let http = roles::bind("meta http", host, config.meta.http_port).await?;
    let tcp = roles::bind("meta tcp", host, config.meta.tcp_port).await?;
    let shutdown = CancellationToken::new();
    let role = roles::MetaRole::start(&config, http, tcp, &shutdown).await?;
    let ports = BoundPorts {
        meta_http: Some(role.http_port),
        meta_tcp: Some(role.tcp_port),
        ..BoundPorts::default()
    };
    serve_until_signal(&config, &ports, &shutdown).await?;
    role.stop().await;
    Ok(())
}

async fn broker(args: RoleArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(args.config.as_deref())?;
    config.validate()?;
    let meta_addr = locate_meta(&config).await?;
    let listener = roles::bind("broker", &config.server.host, config.broker.port).await?;
    let shutdown = CancellationToken::new();
    let role = roles::BrokerRole::start(&config, listener, meta_addr, &shutdown).await?;
    let ports = BoundPorts {
        broker: Some(role.port),
        ..BoundPorts::default()
    };
    serve_until_signal(&config, &ports, &shutdown).await?;
    role.stop().await;
    Ok(())
}

async fn delay(args: RoleArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(args.config.as_deref())?;
    config.validate()?;
    let meta_addr = locate_meta(&config).await?;
    let listener = roles::bind("delay", &config.server.host, config.delay.port).await?;
    let shutdown = CancellationToken::new();
    let role = roles::DelayRole::start(&config, listener, meta_addr, &shutdown).await?;
    let ports = BoundPorts {
        delay: Some(role.port),
        ..BoundPorts::default()
    };
    serve_until_signal(&config, &ports, &shutdown).await?;
    role.stop().await;
    Ok(())
}

async fn watchdog(args: RoleArgs) -> anyhow::Result<()> {
    let config = ServerConfig::load(args.config.as_deref())?;
    config.validate()?;
    if config.watchdog.databases.is_empty() {
        tracing::warn!("no [watchdog] databases configured; the watchdog has nothing to watch");
    }
    let role = roles::WatchdogRole::start(&config, &config.server.meta_url)?;
    let shutdown = CancellationToken::new();
    serve_until_signal(&config, &BoundPorts::default(), &shutdown).await?;
    role.stop().await;
    Ok(())
}

/// Finds the meta TCP address through the discovery URL in `server.meta_url`.
async fn locate_meta(config: &ServerConfig) -> anyhow::Result<std::net::SocketAddr> {
    let locator = MetaLocator::new(&config.server.meta_url, LocatorConfig::default())
        .with_context(|| format!("bad server.meta_url {}", config.server.meta_url))?;
    let meta = locator
        .locate()
        .await
        .with_context(|| format!("cannot locate meta at {}", config.server.meta_url))?;
    let meta_addr = tokio::net::lookup_host((meta.host(), meta.port()))
        .await
        .with_context(|| format!("cannot resolve meta address {meta}"))?
        .next()
        .with_context(|| format!("meta address {meta} resolves to nothing"))?;
    Ok(meta_addr)
}

/// Publishes the bound ports, waits for SIGINT/SIGTERM, then cancels `shutdown`.
async fn serve_until_signal(
    config: &ServerConfig,
    ports: &BoundPorts,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    if let Err(err) = runtime_files::write(&config.server.data_dir, ports, config) {
        tracing::warn!(cause = %err, "cannot write the runtime directory");
    }
    println!("{}", ports.ready_line());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    shutdown.cancel();
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot install SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("cannot install SIGINT handler")?,
        _ = term.recv() => {}
    }
    Ok(())
}
