//! The watchdog role: resends transactional messages whose producer did not (spec §12).
//!
//! For each database in `[watchdog] databases` one worker thread scans the outbox table
//! (`qmq_msg_queue`, see `qmq_core::client::transaction`) every `scan_interval_ms`: rows still
//! pending (`status = 0`) whose `update_time` is older than `age_threshold_ms` are claimed
//! (oldest id first, at most `batch`), resent with the same message id plus
//! `qmq_sequence = id` through an ordinary producer, and deleted once a broker stored them.
//!
//! Invariants worth naming:
//! - several watchdogs may watch one database; the database elects the one that works
//!   (`lock`: PostgreSQL advisory lock, MySQL `GET_LOCK`, SQLite `BEGIN IMMEDIATE` claims) —
//!   there is no election of our own;
//! - a database that is down never stops the role: its worker logs the failure and retries at
//!   the next scan; the other databases are unaffected;
//! - delivery is at-least-once: a row is deleted only after a broker acknowledged its message.

pub mod config;
pub mod lock;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use qmq_core::client::transaction::{OutboxDatabase, OutboxError};
use qmq_core::client::{Client, ClientConfig, ClientError};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

pub use config::{WatchdogConfig, WatchedDatabase};
pub use worker::ScanOutcome;

use crate::config::ConfigError;
use lock::DbLock;

/// Why the watchdog could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchdogError {
    /// The `[watchdog]` section is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A watched database could not be set up (table name, driver).
    #[error("watchdog database {index}")]
    Database {
        /// Index in `watchdog.databases`.
        index: usize,
        /// The cause.
        #[source]
        source: OutboxError,
    },
    /// The producer's client could not start.
    #[error("watchdog producer cannot start")]
    Client {
        /// The cause.
        #[source]
        source: ClientError,
    },
    /// A worker thread could not be spawned.
    #[error("cannot spawn watchdog thread")]
    Thread {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running watchdog.
pub struct Watchdog {
    client: Client,
    token: CancellationToken,
    threads: Vec<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts one worker per configured database, sending through the cluster found at
    /// `meta_url`. `runtime` is the server's runtime (used to await sends).
    ///
    /// # Errors
    /// [`WatchdogError`].
    pub fn start(
        config: &WatchdogConfig,
        meta_url: &str,
        runtime: Handle,
    ) -> Result<Self, WatchdogError> {
        config.validate()?;
        let mut client_config = ClientConfig::new(&config.app_code);
        client_config.meta.url = meta_url.to_owned();
        let client =
            Client::new(client_config).map_err(|source| WatchdogError::Client { source })?;
        let token = CancellationToken::new();
        let mut threads = Vec::new();
        for (index, watched) in config.databases.iter().enumerate() {
            let location = watched.location(index)?;
            let db = OutboxDatabase::new(location.clone(), &watched.table)
                .map_err(|source| WatchdogError::Database { index, source })?;
            let worker = worker::Worker {
                db: Arc::new(db),
                lock: DbLock::new(location, &watched.table),
                producer: client.producer(),
                config: config.clone(),
                runtime: runtime.clone(),
                token: token.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("qmq-watchdog-{index}"))
                .spawn(move || worker.run())
                .map_err(|source| WatchdogError::Thread { source })?;
            threads.push(thread);
        }
        Ok(Self {
            client,
            token,
            threads,
        })
    }

    /// Number of watched databases.
    pub fn databases(&self) -> usize {
        self.threads.len()
    }

    /// Stops the workers (each finishes its current scan), then the producer.
    pub async fn stop(self) {
        self.token.cancel();
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
        if let Err(err) = self.client.close_async(Duration::from_secs(5)).await {
            tracing::warn!(cause = %err, "watchdog producer closed with messages pending");
        }
    }
}
