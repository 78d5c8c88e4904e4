//! `qmq-server watchdog` processes against real databases (a SQLite file, PostgreSQL and
//! MariaDB from qmq-testkit) and a `qmq-server standalone` process: rows left behind by a
//! producer killed between commit and send are delivered exactly once, by exactly one of two
//! watchdogs, and a database going down and coming back loses nothing.
//!
//! These tests are synchronous (the SQL drivers block); pulls run on a runtime of their own.

mod child;
mod database_down;
mod two_watchdogs;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qmq_core::client::transaction::{
    DatabaseLocation, Dialect, Outbox, OutboxDatabase, Staged, encode_content,
};
use qmq_core::client::{Client, ClientConfig, ProducerMessage};
use qmq_core::protocol::Message;
use qmq_testkit::DatabaseServer;

use crate::support::client::{TestClient, ack_request, pull_request};
use crate::support::server::ServerProcess;

/// One outbox table and the subject its messages go to.
pub struct Backend {
    pub dialect: Dialect,
    pub location: String,
    pub table: String,
    pub subject: String,
    pub db: Arc<OutboxDatabase>,
}

impl Backend {
    fn new(dialect: Dialect, location: String) -> Self {
        let table = format!("outbox_{}", dialect.name());
        let db = OutboxDatabase::new(DatabaseLocation::parse(&location).unwrap(), &table).unwrap();
        db.create_table().expect("create outbox table");
        Self {
            subject: format!("wd.{}.{}", dialect.name(), std::process::id()),
            dialect,
            location,
            table,
            db: Arc::new(db),
        }
    }
}

/// Dedicated database servers, a standalone QMQ server and a message factory.
pub struct Fixture {
    pub postgres: DatabaseServer,
    pub mariadb: DatabaseServer,
    pub dir: tempfile::TempDir,
    pub server: ServerProcess,
    pub backends: Vec<Backend>,
    pub client: Client,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    pub fn start() -> Self {
        let postgres = start_database("PostgreSQL", DatabaseServer::postgres);
        let mariadb = start_database("MariaDB", DatabaseServer::mariadb);
        let dir = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(&dir.path().join("server"), &[]);
        let sqlite = dir.path().join("app.db").to_string_lossy().into_owned();
        let backends = vec![
            Backend::new(Dialect::Sqlite, sqlite),
            Backend::new(Dialect::Postgres, postgres.url()),
            Backend::new(Dialect::MySql, mariadb.url()),
        ];
        let mut config = ClientConfig::new("wd-test");
        config.meta.url = format!("http://127.0.0.1:{}/meta/address", server.ports.meta_http);
        let client = Client::new(config).unwrap();
        let fixture = Self {
            postgres,
            mariadb,
            dir,
            server,
            backends,
            client,
            rt: tokio::runtime::Runtime::new().unwrap(),
        };
        // A new consumer group starts at the latest message: subscribe before anything is sent.
        for b in &fixture.backends {
            fixture.pull(&b.subject, 0, Duration::ZERO);
        }
        fixture
    }

    pub fn meta_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/meta/address",
            self.server.ports.meta_http
        )
    }

    /// Starts a `qmq-server watchdog` over every backend; its log goes to `<name>.log`.
    pub fn spawn_watchdog(&self, name: &str, age_threshold_ms: u64) -> (ServerProcess, PathBuf) {
        let mut toml = format!(
            "[server]\nhost = \"127.0.0.1\"\nmeta_url = \"{}\"\n\
             [watchdog]\nscan_interval_ms = 200\nage_threshold_ms = {age_threshold_ms}\n\
             send_timeout_ms = 10000\n",
            self.meta_url()
        );
        for b in &self.backends {
            toml.push_str(&format!(
                "[[watchdog.databases]]\ndialect = \"{}\"\nurl = \"{}\"\ntable = \"{}\"\n",
                b.dialect, b.location, b.table
            ));
        }
        let data = self.dir.path().join(name);
        std::fs::create_dir_all(&data).unwrap();
        let config = data.join("watchdog.toml");
        std::fs::write(&config, toml).unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        let process = ServerProcess::spawn_logged(
            &data,
            &[
                "watchdog".into(),
                "--config".into(),
                config.to_string_lossy().into_owned(),
            ],
            &[("QMQ_SERVER_DATA_DIR", data.to_string_lossy().into_owned())],
            &log,
        );
        (process, log)
    }

    /// Inserts `n` committed rows into `backend` (as a producer would that then died);
    /// returns their message ids.
    pub fn insert_rows(&self, backend: &Backend, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| {
                let m = self
                    .client
                    .producer()
                    .generate_message(&backend.subject)
                    .unwrap();
                backend.db.insert(&encode_content(&m)).unwrap();
                m.message_id().to_owned()
            })
            .collect()
    }

    /// Pulls (and acks) `subject` until `expect` messages came or `within` passed.
    pub fn pull(&self, subject: &str, expect: usize, within: Duration) -> Vec<Message> {
        let addr = self.server.broker();
        self.rt.block_on(async {
            let mut c = TestClient::connect(addr).await;
            let end = Instant::now() + within;
            let mut out = Vec::new();
            loop {
                let timeout = if within.is_zero() { 0 } else { 300 };
                let req = pull_request(subject, "wd", "wd-consumer@@1", 100, timeout);
                if let Some(resp) = c.pull(&req).await {
                    if !resp.messages.is_empty() {
                        let last = resp.pull_log_offset + resp.messages.len() as i64 - 1;
                        let ack = ack_request(
                            subject,
                            "wd",
                            "wd-consumer@@1",
                            resp.pull_log_offset,
                            last,
                        );
                        assert_eq!(c.ack(&ack).await, 0, "ack");
                        out.extend(resp.messages);
                    }
                }
                if out.len() >= expect || Instant::now() >= end {
                    return out;
                }
            }
        })
    }

    /// Pulls until `want` ids arrived (or 30 s), then 2 s more to catch duplicates; asserts
    /// every id came exactly once and nothing else came.
    pub fn expect_exactly_once(&self, backend: &Backend, want: &[String]) -> Vec<Message> {
        let mut got = self.pull(&backend.subject, want.len(), Duration::from_secs(30));
        got.extend(self.pull(&backend.subject, usize::MAX, Duration::from_secs(2)));
        let mut ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
        ids.sort_unstable();
        let mut expected: Vec<&str> = want.iter().map(String::as_str).collect();
        expected.sort_unstable();
        assert_eq!(
            ids, expected,
            "{}: every row delivered exactly once",
            backend.dialect
        );
        got
    }
}

/// Starts a test database, retrying: qmq-testkit's `CREATE DATABASE` can race PostgreSQL's
/// start-up ("the database system is starting up") on a loaded machine.
pub fn start_database(
    what: &str,
    start: fn() -> Result<DatabaseServer, qmq_testkit::TestkitError>,
) -> DatabaseServer {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match start() {
            Ok(server) => return server,
            Err(err) if attempt < 3 => eprintln!("{what} did not start ({err}); retrying"),
            Err(err) => panic!("start {what}: {err}"),
        }
    }
}

/// Stages `message` through a transaction of a fresh connection of the caller, and commits.
pub fn stage_and_commit(backend: &Backend, outbox: &Outbox, message: ProducerMessage) -> Staged {
    match backend.dialect {
        Dialect::Sqlite => {
            let mut conn = rusqlite::Connection::open(&backend.location).unwrap();
            let mut tx = conn.transaction().unwrap();
            let staged = outbox.stage(&mut tx, message).unwrap();
            tx.commit().unwrap();
            staged
        }
        Dialect::Postgres => {
            let mut conn = postgres::Client::connect(&backend.location, postgres::NoTls).unwrap();
            let mut tx = conn.transaction().unwrap();
            let staged = outbox.stage(&mut tx, message).unwrap();
            tx.commit().unwrap();
            staged
        }
        Dialect::MySql => {
            let mut conn =
                mysql::Conn::new(mysql::Opts::from_url(&backend.location).unwrap()).unwrap();
            let mut tx = conn.start_transaction(mysql::TxOpts::default()).unwrap();
            let staged = outbox.stage(&mut tx, message).unwrap();
            tx.commit().unwrap();
            staged
        }
    }
}
