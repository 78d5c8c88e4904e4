//! One outbox per dialect: a SQLite file, and a table of its own on shared PostgreSQL and
//! MariaDB servers (started once per test binary; each test uses fresh table names).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox, OutboxDatabase, OutboxSend, Staged};
use qmq_core::client::{Client, ClientConfig, ProducerMessage};
use qmq_core::protocol::Message;
use qmq_server::standalone::{ServerConfig, StandaloneServer};
use qmq_server::watchdog::WatchedDatabase;
use qmq_testkit::DatabaseServer;
use tokio::runtime::Runtime;

use crate::producer_support::Puller;

struct Shared {
    postgres: DatabaseServer,
    mariadb: DatabaseServer,
}

fn shared() -> &'static Mutex<Shared> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    SHARED.get_or_init(|| {
        Mutex::new(Shared {
            postgres: start_database("PostgreSQL", DatabaseServer::postgres),
            mariadb: start_database("MariaDB", DatabaseServer::mariadb),
        })
    })
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

/// A unique name per call, for tables and subjects.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An outbox table (and a business table) in one database.
pub struct Backend {
    pub dialect: Dialect,
    /// `postgres://…`, `mysql://…` or the SQLite file.
    pub location: String,
    pub table: String,
    pub business: String,
    pub db: Arc<OutboxDatabase>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub fn new(dialect: Dialect) -> Self {
        let (location, dir) = match dialect {
            Dialect::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("app.db");
                (path.to_string_lossy().into_owned(), Some(dir))
            }
            Dialect::Postgres => (shared().lock().unwrap().postgres.url(), None),
            Dialect::MySql => (shared().lock().unwrap().mariadb.url(), None),
        };
        let table = unique("outbox");
        let business = unique("biz");
        let db = OutboxDatabase::new(
            qmq_core::client::transaction::DatabaseLocation::parse(&location).unwrap(),
            &table,
        )
        .unwrap();
        db.create_table().expect("create the outbox table");
        let backend = Self {
            dialect,
            location,
            table,
            business,
            db: Arc::new(db),
            _dir: dir,
        };
        backend.exec(&format!(
            "CREATE TABLE {} (id INTEGER NOT NULL, note VARCHAR(100))",
            backend.business
        ));
        backend
    }

    /// The watchdog's view of this database.
    pub fn watched(&self) -> WatchedDatabase {
        WatchedDatabase {
            dialect: self.dialect.name().to_owned(),
            url: self.location.clone(),
            table: self.table.clone(),
        }
    }

    /// Runs one statement on a fresh connection.
    pub fn exec(&self, sql: &str) {
        match self.dialect {
            Dialect::Sqlite => {
                rusqlite::Connection::open(&self.location)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Dialect::Postgres => {
                postgres::Client::connect(&self.location, postgres::NoTls)
                    .unwrap()
                    .batch_execute(sql)
                    .unwrap();
            }
            Dialect::MySql => {
                use mysql::prelude::Queryable;
                mysql::Conn::new(mysql::Opts::from_url(&self.location).unwrap())
                    .unwrap()
                    .query_drop(sql)
                    .unwrap();
            }
        }
    }

    /// Rows in the business table.
    pub fn business_rows(&self) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", self.business);
        match self.dialect {
            Dialect::Sqlite => rusqlite::Connection::open(&self.location)
                .unwrap()
                .query_row(&sql, [], |r| r.get(0))
                .unwrap(),
            Dialect::Postgres => postgres::Client::connect(&self.location, postgres::NoTls)
                .unwrap()
                .query_one(&sql, &[])
                .unwrap()
                .get(0),
            Dialect::MySql => {
                use mysql::prelude::Queryable;
                mysql::Conn::new(mysql::Opts::from_url(&self.location).unwrap())
                    .unwrap()
                    .query_first(&sql)
                    .unwrap()
                    .unwrap()
            }
        }
    }

    /// Stages `message` together with a business row in one transaction of the caller's own
    /// connection, then commits (`commit = true`) or rolls back. Returns the staged handle (its
    /// row exists only if committed).
    pub fn stage(&self, outbox: &Outbox, message: ProducerMessage, commit: bool) -> Staged {
        let insert = format!(
            "INSERT INTO {} (id, note) VALUES (1, 'paid')",
            self.business
        );
        match self.dialect {
            Dialect::Sqlite => {
                let mut conn = rusqlite::Connection::open(&self.location).unwrap();
                let mut tx = conn.transaction().unwrap();
                tx.execute(&insert, []).unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                if commit {
                    tx.commit().unwrap()
                } else {
                    tx.rollback().unwrap()
                }
                staged
            }
            Dialect::Postgres => {
                let mut conn = postgres::Client::connect(&self.location, postgres::NoTls).unwrap();
                let mut tx = conn.transaction().unwrap();
                tx.execute(&insert, &[]).unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                if commit {
                    tx.commit().unwrap()
                } else {
                    tx.rollback().unwrap()
                }
                staged
            }
            Dialect::MySql => {
                use mysql::prelude::Queryable;
                let mut conn =
                    mysql::Conn::new(mysql::Opts::from_url(&self.location).unwrap()).unwrap();
                let mut tx = conn.start_transaction(mysql::TxOpts::default()).unwrap();
                tx.query_drop(&insert).unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                if commit {
                    tx.commit().unwrap()
                } else {
                    tx.rollback().unwrap()
                }
                staged
            }
        }
    }

    /// Stages and lets the outbox commit and send in one call.
    pub fn stage_commit_and_send(&self, outbox: &Outbox, message: ProducerMessage) -> OutboxSend {
        match self.dialect {
            Dialect::Sqlite => {
                let mut conn = rusqlite::Connection::open(&self.location).unwrap();
                let mut tx = conn.transaction().unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                staged.commit_and_send(tx).unwrap()
            }
            Dialect::Postgres => {
                let mut conn = postgres::Client::connect(&self.location, postgres::NoTls).unwrap();
                let mut tx = conn.transaction().unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                staged.commit_and_send(tx).unwrap()
            }
            Dialect::MySql => {
                let mut conn =
                    mysql::Conn::new(mysql::Opts::from_url(&self.location).unwrap()).unwrap();
                let mut tx = conn.start_transaction(mysql::TxOpts::default()).unwrap();
                let staged = outbox.stage(&mut tx, message).unwrap();
                staged.commit_and_send(tx).unwrap()
            }
        }
    }
}

/// A standalone server (optionally with a watchdog over `watched`) on its own runtime.
pub struct Cluster {
    pub rt: Runtime,
    pub server: Option<StandaloneServer>,
    pub broker_port: u16,
    _dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start(watched: Vec<WatchedDatabase>) -> Self {
        let rt = Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::for_tests(dir.path());
        config.watchdog.databases = watched;
        config.watchdog.scan_interval_ms = 200;
        config.watchdog.age_threshold_ms = 1000;
        let server = rt
            .block_on(StandaloneServer::start(config))
            .expect("server starts");
        let broker_port = server.ports.broker.unwrap();
        Self {
            rt,
            server: Some(server),
            broker_port,
            _dir: dir,
        }
    }

    pub fn meta_url(&self) -> String {
        self.server.as_ref().unwrap().meta_url()
    }

    pub fn client(&self) -> Client {
        let mut config = ClientConfig::new("e2e-outbox");
        config.meta.url = self.meta_url();
        Client::new(config).unwrap()
    }

    /// A puller subscribed to `subject` (call before anything is sent).
    pub fn puller(&self, subject: &str) -> Puller {
        let port = self.broker_port;
        self.rt.block_on(async {
            let p = Puller::new(port, "outbox-test");
            p.subscribe(subject).await;
            p
        })
    }

    /// Everything pulled from `subject` within `within` (stops early at `expect` messages,
    /// then waits a little longer to catch duplicates).
    pub fn pull(
        &self,
        puller: &Puller,
        subject: &str,
        expect: usize,
        within: Duration,
    ) -> Vec<Message> {
        self.rt.block_on(async {
            let mut got = puller.pull_n(subject, expect, Vec::new(), within).await;
            got.extend(
                puller
                    .pull_n(subject, usize::MAX, Vec::new(), Duration::from_millis(1500))
                    .await,
            );
            got
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.rt.block_on(server.shutdown());
        }
    }
}
