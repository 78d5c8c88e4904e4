//! `IdempotenceStoreRef`: a core idempotence store (in memory, SQLite, PostgreSQL,
//! MySQL/MariaDB or Redis) to hand to subscriptions through their options.
//!
//! The network stores connect once when built (so a wrong URL fails here, not on the first
//! message), with the GIL released, and then pool reconnecting connections in the core.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use qmq_core::client::ClientError;
use qmq_core::client::idempotence::{
    IdempotenceError, IdempotenceStore, MemoryStore, MemoryStoreConfig, MySqlStore,
    MySqlStoreConfig, PostgresStore, PostgresStoreConfig, RedisStore, RedisStoreConfig,
    SqliteStore, SqliteStoreConfig,
};

use crate::errors;

/// A store of processed message keys (`subject%group%messageId`).
#[pyclass(frozen, module = "qmq._native")]
pub struct IdempotenceStoreRef {
    store: Arc<dyn IdempotenceStore>,
    kind: &'static str,
}

impl IdempotenceStoreRef {
    pub(crate) fn store(&self) -> Arc<dyn IdempotenceStore> {
        self.store.clone()
    }

    fn opened<S: IdempotenceStore + 'static>(
        py: Python<'_>,
        store: Result<S, IdempotenceError>,
        kind: &'static str,
    ) -> PyResult<Self> {
        let store = store.map_err(|e| errors::to_py(py, &ClientError::from(e)))?;
        Ok(Self {
            store: Arc::new(store),
            kind,
        })
    }
}

#[pymethods]
impl IdempotenceStoreRef {
    /// A bounded in-memory store: at most `capacity` keys, each kept `ttl_ms`.
    #[staticmethod]
    fn memory(py: Python<'_>, capacity: usize, ttl_ms: u64) -> PyResult<Self> {
        let store = MemoryStore::new(MemoryStoreConfig {
            capacity,
            ttl: Duration::from_millis(ttl_ms),
        })
        .map_err(|e| errors::to_py(py, &ClientError::from(e)))?;
        Ok(Self {
            store: Arc::new(store),
            kind: "memory",
        })
    }

    /// A SQLite store in the file `path` (`":memory:"` for a private in-memory database),
    /// table `table` (QMQ's `deduplicate_tbl` shape); keys expire after `ttl_ms` if given.
    #[staticmethod]
    #[pyo3(signature = (path, table, ttl_ms=None))]
    fn sqlite(py: Python<'_>, path: &str, table: &str, ttl_ms: Option<u64>) -> PyResult<Self> {
        let config = SqliteStoreConfig {
            table: table.to_owned(),
            ttl: ttl_ms.map(Duration::from_millis),
            ..SqliteStoreConfig::default()
        };
        let opened = py.detach(|| {
            if path == ":memory:" {
                SqliteStore::open_in_memory(config)
            } else {
                SqliteStore::open(path, config)
            }
        });
        let store = opened.map_err(|e| errors::to_py(py, &ClientError::from(e)))?;
        Ok(Self {
            store: Arc::new(store),
            kind: "sqlite",
        })
    }

    /// A PostgreSQL store at `url`, table `table` (created if `create_table`); keys expire
    /// after `ttl_ms` if given. Connects once before returning.
    #[staticmethod]
    #[pyo3(signature = (url, table, ttl_ms=None, create_table=true, connect_timeout_ms=5000))]
    fn postgres(
        py: Python<'_>,
        url: &str,
        table: &str,
        ttl_ms: Option<u64>,
        create_table: bool,
        connect_timeout_ms: u64,
    ) -> PyResult<Self> {
        let config = PostgresStoreConfig {
            table: table.to_owned(),
            ttl: ttl_ms.map(Duration::from_millis),
            create_table,
            connect_timeout: Duration::from_millis(connect_timeout_ms),
            ..PostgresStoreConfig::new(url)
        };
        let store = py.detach(|| PostgresStore::connect(config));
        Self::opened(py, store, "postgres")
    }

    /// A MySQL/MariaDB store at `url` (QMQ's `deduplicate_tbl` with `INSERT IGNORE`); as
    /// [`Self::postgres`] otherwise.
    #[staticmethod]
    #[pyo3(signature = (url, table, ttl_ms=None, create_table=true, connect_timeout_ms=5000))]
    fn mysql(
        py: Python<'_>,
        url: &str,
        table: &str,
        ttl_ms: Option<u64>,
        create_table: bool,
        connect_timeout_ms: u64,
    ) -> PyResult<Self> {
        let config = MySqlStoreConfig {
            table: table.to_owned(),
            ttl: ttl_ms.map(Duration::from_millis),
            create_table,
            connect_timeout: Duration::from_millis(connect_timeout_ms),
            ..MySqlStoreConfig::new(url)
        };
        let store = py.detach(|| MySqlStore::connect(config));
        Self::opened(py, store, "mysql")
    }

    /// A Redis store at `url`: keys `key_prefix + key`, each kept `ttl_ms` (`SET NX PX`).
    /// Connects and pings before returning.
    #[staticmethod]
    #[pyo3(signature = (url, key_prefix, ttl_ms, connect_timeout_ms=5000))]
    fn redis(
        py: Python<'_>,
        url: &str,
        key_prefix: &str,
        ttl_ms: u64,
        connect_timeout_ms: u64,
    ) -> PyResult<Self> {
        let config = RedisStoreConfig {
            key_prefix: key_prefix.to_owned(),
            ttl: Duration::from_millis(ttl_ms),
            connect_timeout: Duration::from_millis(connect_timeout_ms),
            ..RedisStoreConfig::new(url)
        };
        let store = py.detach(|| RedisStore::connect(config));
        Self::opened(py, store, "redis")
    }

    /// `"memory"`, `"sqlite"`, `"postgres"`, `"mysql"` or `"redis"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
}
