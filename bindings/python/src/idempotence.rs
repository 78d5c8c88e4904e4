//! `IdempotenceStoreRef`: a core idempotence store (in memory or SQLite) to hand to
//! subscriptions through their options.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use qmq_core::client::ClientError;
use qmq_core::client::idempotence::{
    IdempotenceStore, MemoryStore, MemoryStoreConfig, SqliteStore, SqliteStoreConfig,
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

    /// `"memory"` or `"sqlite"`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
}
