//! `qmq-server`: a QMQ-compatible message queue server.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use qmq_server::app::server_config::ServerConfig;
use qmq_server::app::standalone::StandaloneServer;
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
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qmq-server")
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.command {
        Command::Standalone(args) => runtime.block_on(standalone(args)),
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
    let _ = args.delay_port;
    let server = StandaloneServer::start(config)
        .await
        .context("cannot start qmq-server standalone")?;
    println!("{}", server.ports.ready_line());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    server.shutdown().await;
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
