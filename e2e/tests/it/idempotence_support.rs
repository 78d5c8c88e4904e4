//! Helpers of the database idempotence tests: shared real database servers, fresh tables, and
//! a per-message counter table standing in for the consumer's business effect.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use qmq_core::client::idempotence::{
    IdempotenceStore, ManualClock, MySqlStore, MySqlStoreConfig, PostgresStore,
    PostgresStoreConfig, RedisStore, RedisStoreConfig,
};
use qmq_testkit::DatabaseServer;

/// One server per kind shared by the tests that do not stop it; a test that takes its
/// database down starts its own.
fn shared(
    cell: &'static OnceLock<Mutex<DatabaseServer>>,
    start: fn() -> Result<DatabaseServer, qmq_testkit::TestkitError>,
) -> String {
    cell.get_or_init(|| Mutex::new(start().expect("start the test database")))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .url()
}

pub fn postgres_url() -> String {
    static PG: OnceLock<Mutex<DatabaseServer>> = OnceLock::new();
    shared(&PG, DatabaseServer::postgres)
}

pub fn mariadb_url() -> String {
    static MARIADB: OnceLock<Mutex<DatabaseServer>> = OnceLock::new();
    shared(&MARIADB, DatabaseServer::mariadb)
}

pub fn redis_url() -> String {
    static REDIS: OnceLock<Mutex<DatabaseServer>> = OnceLock::new();
    shared(&REDIS, DatabaseServer::redis)
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A table (or key prefix) name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn pg_store(url: &str, table: &str, ttl: Option<Duration>) -> PostgresStore {
    PostgresStore::connect(PostgresStoreConfig {
        table: table.to_owned(),
        ttl,
        connect_timeout: Duration::from_secs(2),
        ..PostgresStoreConfig::new(url)
    })
    .expect("postgres store")
}

pub fn my_store(url: &str, table: &str, ttl: Option<Duration>) -> MySqlStore {
    MySqlStore::connect(MySqlStoreConfig {
        table: table.to_owned(),
        ttl,
        connect_timeout: Duration::from_secs(2),
        ..MySqlStoreConfig::new(url)
    })
    .expect("mysql store")
}

pub fn redis_store(url: &str, prefix: &str, ttl: Duration) -> RedisStore {
    RedisStore::connect(RedisStoreConfig {
        key_prefix: format!("{prefix}:"),
        ttl,
        connect_timeout: Duration::from_secs(2),
        ..RedisStoreConfig::new(url)
    })
    .expect("redis store")
}

pub fn pg_factory(ttl: Option<Duration>, clock: Arc<ManualClock>) -> Box<dyn IdempotenceStore> {
    Box::new(pg_store(&postgres_url(), &unique("dedup"), ttl).with_clock(clock))
}

pub fn my_factory(ttl: Option<Duration>, clock: Arc<ManualClock>) -> Box<dyn IdempotenceStore> {
    Box::new(my_store(&mariadb_url(), &unique("dedup"), ttl).with_clock(clock))
}

/// The business effect: `counter(id, n)` in the same database as the dedup table.
pub mod counter {
    use mysql::prelude::Queryable;

    pub fn pg_create(client: &mut postgres::Client, table: &str) {
        client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id VARCHAR(100) PRIMARY KEY, n INT NOT NULL)"
            ))
            .expect("create counter table");
    }

    pub fn pg_bump(
        tx: &mut impl postgres::GenericClient,
        table: &str,
        id: &str,
    ) -> Result<u64, postgres::Error> {
        tx.execute(
            &format!(
                "INSERT INTO {table}(id, n) VALUES ($1, 1) \
                 ON CONFLICT (id) DO UPDATE SET n = {table}.n + 1"
            ),
            &[&id],
        )
    }

    /// `id → n` of every row.
    pub fn pg_read(url: &str, table: &str) -> Vec<(String, i32)> {
        pg_try_read(url, table).expect("read counters")
    }

    /// [`pg_read`] that may fail (a database that is still starting up).
    pub fn pg_try_read(url: &str, table: &str) -> Result<Vec<(String, i32)>, postgres::Error> {
        let mut client = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(client
            .query(&format!("SELECT id, n FROM {table} ORDER BY id"), &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    pub fn my_create(url: &str, table: &str) {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).expect("url")).expect("connect");
        conn.query_drop(format!(
            "CREATE TABLE {table} (id VARCHAR(100) PRIMARY KEY, n INT NOT NULL) ENGINE=InnoDB"
        ))
        .expect("create counter table");
    }

    pub fn my_bump(q: &mut impl Queryable, table: &str, id: &str) -> Result<(), mysql::Error> {
        q.exec_drop(
            format!("INSERT INTO {table}(id, n) VALUES (?, 1) ON DUPLICATE KEY UPDATE n = n + 1"),
            (id,),
        )
    }

    pub fn my_read(url: &str, table: &str) -> Vec<(String, i32)> {
        let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).expect("url")).expect("connect");
        conn.query(format!("SELECT id, n FROM {table} ORDER BY id"))
            .expect("read counters")
    }
}
