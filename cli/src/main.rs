//! `qmq`: the command-line tool of QMQ in Rust.
//!
//! Subcommands: `send` (one or more messages), `consume` (pull, print, ack) and `bench`
//! (producers and consumers in one process, throughput and latency percentiles). Every
//! subcommand reaches the cluster through the meta server's HTTP discovery URL, `--meta`.
//!
//! Invariants: results go to stdout (one line per message or report), diagnostics to stderr;
//! every failure exits non-zero with a one-line `error: ...` message.

mod bench;
mod consume;
mod send;
mod time_arg;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use qmq_core::client::config::DEFAULT_META_URL;
use qmq_core::client::{Client, ClientConfig};

#[derive(Parser)]
#[command(
    name = "qmq",
    version,
    about = "Send, consume and benchmark QMQ messages"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Meta server discovery URL.
    #[arg(long, global = true, env = "QMQ_META", default_value = DEFAULT_META_URL)]
    pub meta: String,
    /// Application code sent to meta and set on messages.
    #[arg(long, global = true, default_value = "qmq-cli")]
    pub app_code: String,
}

impl Common {
    /// A client for the cluster behind `--meta`.
    ///
    /// # Errors
    /// A bad meta URL or app code, or a runtime that cannot start.
    pub fn client(&self) -> anyhow::Result<Client> {
        self.client_with(|_| {})
    }

    /// A client for the cluster behind `--meta`, with `tune` applied to its configuration.
    ///
    /// # Errors
    /// As [`Common::client`], or a tuned value the client rejects.
    pub fn client_with(&self, tune: impl FnOnce(&mut ClientConfig)) -> anyhow::Result<Client> {
        let mut config = ClientConfig::new(self.app_code.clone());
        config.meta.url = self.meta.clone();
        tune(&mut config);
        Client::new(config).with_context(|| format!("cannot create a client for {}", self.meta))
    }
}

#[derive(Subcommand)]
enum Command {
    /// Send messages; prints each message id and the broker group that stored it.
    Send(send::SendArgs),
    /// Consume messages: prints each one as a line (or JSON) and acks it.
    Consume(consume::ConsumeArgs),
    /// Run producers and consumers and report throughput and latency.
    Bench(bench::args::BenchArgs),
}

/// How long closing a client may wait for pending sends.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("qmq-cli")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Send(args) => send::run(&cli.common, args).await,
            Command::Consume(args) => consume::run(&cli.common, args).await,
            Command::Bench(args) => bench::run(&cli.common, args).await,
        }
    });
    // Client runtimes shut down in the background; do not wait for stray tasks.
    runtime.shutdown_timeout(Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
