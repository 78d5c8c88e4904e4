//! Real database servers for tests: PostgreSQL, MariaDB and Redis, each started from the
//! Debian packages' binaries on `127.0.0.1` with an ephemeral port and a throwaway data
//! directory, and stopped again.
//!
//! Tests never mock a database. When a server's binaries are missing the start fails with an
//! error naming the package to install (`ci/install-deps.sh` installs them all) — the test
//! fails rather than skipping.
//!
//! Invariants worth naming:
//! - every server runs under a small `sh` guardian whose stdin is a pipe held by this process;
//!   when the pipe closes — [`DatabaseServer::stop`], drop, or this process dying in any way,
//!   even when a server lives in a `static` that is never dropped — the guardian kills the
//!   server and waits for it. No server outlives its test run.
//! - [`DatabaseServer::stop`] and [`DatabaseServer::start`] keep the data directory and the
//!   port, so tests can take a database down and bring it back with its data.

mod guardian;
mod mariadb;
mod postgres;
mod redis;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use guardian::Guardian;

/// What can go wrong starting or stopping a test database.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The server's binaries are not installed.
    #[error("{what} not found ({looked}); install it with: {install}")]
    Missing {
        /// The program looked for.
        what: &'static str,
        /// Where it was looked for.
        looked: String,
        /// The command that installs it.
        install: &'static str,
    },
    /// A setup command (initdb, install-db, ...) failed.
    #[error("{command} failed ({status}): {output}")]
    Setup {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its stdout and stderr.
        output: String,
    },
    /// The server did not start listening in time.
    #[error("{what} did not accept connections on port {port} within {waited:?}; log: {log}")]
    NotReady {
        /// Which server.
        what: &'static str,
        /// Its port.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// The tail of its log.
        log: String,
    },
    /// An I/O error around the processes or directories.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl TestkitError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> TestkitError {
        let context = context.into();
        move |source| TestkitError::Io { context, source }
    }
}

/// Which kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    /// PostgreSQL (`postgres://`).
    Postgres,
    /// MariaDB, speaking the MySQL protocol (`mysql://`).
    MariaDb,
    /// Redis (`redis://`).
    Redis,
}

/// A running (or stopped) test database server. Dropping it stops the server and deletes
/// its data directory.
pub struct DatabaseServer {
    kind: DatabaseKind,
    port: u16,
    dir: tempfile::TempDir,
    guardian: Option<Guardian>,
}

/// The database every server creates at start for tests to use.
pub const TEST_DATABASE: &str = "qmq";

impl DatabaseServer {
    /// Starts a fresh PostgreSQL server with a database [`TEST_DATABASE`]; user `postgres`,
    /// trust authentication.
    ///
    /// # Errors
    /// [`TestkitError`] when the binaries are missing or the server does not come up.
    pub fn postgres() -> Result<Self, TestkitError> {
        Self::create(DatabaseKind::Postgres)
    }

    /// Starts a fresh MariaDB server with a database [`TEST_DATABASE`]; user `root`, no password.
    ///
    /// # Errors
    /// [`TestkitError`] when the binaries are missing or the server does not come up.
    pub fn mariadb() -> Result<Self, TestkitError> {
        Self::create(DatabaseKind::MariaDb)
    }

    /// Starts a fresh Redis server without persistence.
    ///
    /// # Errors
    /// [`TestkitError`] when the binaries are missing or the server does not come up.
    pub fn redis() -> Result<Self, TestkitError> {
        Self::create(DatabaseKind::Redis)
    }

    fn create(kind: DatabaseKind) -> Result<Self, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix(match kind {
                DatabaseKind::Postgres => "qmq-pg-",
                DatabaseKind::MariaDb => "qmq-mariadb-",
                DatabaseKind::Redis => "qmq-redis-",
            })
            .tempdir()
            .map_err(TestkitError::io("create a data directory"))?;
        let port = free_port()?;
        match kind {
            DatabaseKind::Postgres => postgres::init(dir.path())?,
            DatabaseKind::MariaDb => mariadb::init(dir.path())?,
            DatabaseKind::Redis => redis::check_installed()?,
        }
        let mut server = DatabaseServer {
            kind,
            port,
            dir,
            guardian: None,
        };
        server.start()?;
        match kind {
            DatabaseKind::Postgres => postgres::create_test_database(server.dir.path(), port)?,
            DatabaseKind::MariaDb => mariadb::create_test_database(server.dir.path())?,
            DatabaseKind::Redis => {}
        }
        Ok(server)
    }

    /// Starts the server again after [`DatabaseServer::stop`], on the same port and data.
    /// Does nothing when it is running.
    ///
    /// # Errors
    /// [`TestkitError`] when the server does not come up.
    pub fn start(&mut self) -> Result<(), TestkitError> {
        if self.guardian.is_some() {
            return Ok(());
        }
        let data = self.dir.path();
        let guardian = match self.kind {
            DatabaseKind::Postgres => postgres::launch(data, self.port)?,
            DatabaseKind::MariaDb => mariadb::launch(data, self.port)?,
            DatabaseKind::Redis => redis::launch(data, self.port)?,
        };
        self.guardian = Some(guardian);
        let what = self.name();
        let log = self.log_path();
        wait_until_listening(what, self.port, Duration::from_secs(60), &log, || {
            self.guardian.as_mut().is_some_and(Guardian::is_running)
        })?;
        if self.kind == DatabaseKind::Postgres {
            postgres::wait_accepting(data, self.port, Duration::from_secs(60))?;
        }
        Ok(())
    }

    /// Stops the server (its clients see connection errors); the data stays.
    pub fn stop(&mut self) {
        if let Some(guardian) = self.guardian.take() {
            guardian.stop();
        }
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.guardian.is_some()
    }

    /// Which kind of server this is.
    pub fn kind(&self) -> DatabaseKind {
        self.kind
    }

    /// The TCP port on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for the test database: `postgres://postgres@127.0.0.1:P/qmq`,
    /// `mysql://root@127.0.0.1:P/qmq` or `redis://127.0.0.1:P/`.
    pub fn url(&self) -> String {
        match self.kind {
            DatabaseKind::Postgres => {
                format!(
                    "postgres://postgres@127.0.0.1:{}/{TEST_DATABASE}",
                    self.port
                )
            }
            DatabaseKind::MariaDb => {
                format!("mysql://root@127.0.0.1:{}/{TEST_DATABASE}", self.port)
            }
            DatabaseKind::Redis => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    fn name(&self) -> &'static str {
        match self.kind {
            DatabaseKind::Postgres => "PostgreSQL",
            DatabaseKind::MariaDb => "MariaDB",
            DatabaseKind::Redis => "Redis",
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for DatabaseServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for DatabaseServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseServer")
            .field("kind", &self.kind)
            .field("url", &self.url())
            .field("running", &self.is_running())
            .finish()
    }
}

/// A port that was free a moment ago on `127.0.0.1`.
fn free_port() -> Result<u16, TestkitError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(TestkitError::io("find a free port"))?;
    let port = listener
        .local_addr()
        .map_err(TestkitError::io("find a free port"))?
        .port();
    Ok(port)
}

fn wait_until_listening(
    what: &'static str,
    port: u16,
    limit: Duration,
    log: &Path,
    mut alive: impl FnMut() -> bool,
) -> Result<(), TestkitError> {
    let started = Instant::now();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if !alive() || started.elapsed() > limit {
            return Err(TestkitError::NotReady {
                what,
                port,
                waited: started.elapsed(),
                log: log_tail(log),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Runs a setup command to completion; its output goes into the error when it fails.
fn run_setup(command: &mut Command) -> Result<(), TestkitError> {
    let line = format!("{command:?}");
    let output = command
        .output()
        .map_err(TestkitError::io(format!("run {line}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(TestkitError::Setup {
        command: line,
        status: output.status.to_string(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    })
}

/// The first of `candidates` that exists.
fn find_program(
    what: &'static str,
    candidates: &[PathBuf],
    install: &'static str,
) -> Result<PathBuf, TestkitError> {
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| TestkitError::Missing {
            what,
            looked: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            install,
        })
}

/// `name` in the usual binary directories.
fn system_program(name: &str) -> Vec<PathBuf> {
    [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ]
    .iter()
    .map(|dir| Path::new(dir).join(name))
    .collect()
}

#[cfg(test)]
mod tests;
