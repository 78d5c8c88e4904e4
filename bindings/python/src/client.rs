//! `ClientRef`: the core [`Client`] (its runtime, meta client and connections) behind the
//! Python `qmq.Client`.
//!
//! Invariants: the configuration arrives already normalised by the Python layer (durations in
//! milliseconds); the core validates it. Every handle remembers the process that created it
//! and refuses to be used after a `fork()` (the runtime's threads do not survive it).

use std::time::Duration;

use pyo3::prelude::*;
use qmq_core::client::{Client, ClientConfig};

use crate::consumer::ConsumerRef;
use crate::errors;
use crate::producer::ProducerRef;

/// The process that created a handle.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner(u32);

impl Owner {
    pub(crate) fn current() -> Self {
        Self(std::process::id())
    }

    /// The creating process id.
    pub(crate) fn pid(self) -> u32 {
        self.0
    }

    /// Refuses use from a forked child.
    pub(crate) fn check(self, py: Python<'_>) -> PyResult<()> {
        if std::process::id() == self.0 {
            return Ok(());
        }
        Err(errors::qmq_error(
            py,
            "QmqError",
            "a qmq client cannot be used after fork(); create a new one in the child process",
            "Forked",
            false,
        ))
    }
}

/// A connection to one QMQ cluster.
#[pyclass(frozen, module = "qmq._native")]
pub struct ClientRef {
    pub(crate) client: Client,
    pub(crate) owner: Owner,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

#[pymethods]
impl ClientRef {
    #[new]
    #[pyo3(signature = (
        meta_url, app_code, *, client_id=None, worker_threads=None, send_tries=None,
        send_timeout_ms=None, batch_size=None, queue_capacity=None, pull_batch_size=None,
        pull_timeout_ms=None, max_retry=None, retry_delay_ms=None
    ))]
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn new(
        py: Python<'_>,
        meta_url: String,
        app_code: String,
        client_id: Option<String>,
        worker_threads: Option<usize>,
        send_tries: Option<u32>,
        send_timeout_ms: Option<u64>,
        batch_size: Option<usize>,
        queue_capacity: Option<usize>,
        pull_batch_size: Option<u32>,
        pull_timeout_ms: Option<u64>,
        max_retry: Option<u32>,
        retry_delay_ms: Option<u64>,
    ) -> PyResult<Self> {
        let mut config = ClientConfig::new(app_code);
        config.meta.url = meta_url;
        config.client_id = client_id;
        if let Some(v) = worker_threads {
            config.runtime.worker_threads = v;
        }
        if let Some(v) = send_tries {
            config.producer.send_tries = v;
        }
        if let Some(v) = send_timeout_ms {
            config.producer.send_timeout = ms(v);
        }
        if let Some(v) = batch_size {
            config.producer.batch_size = v;
        }
        if let Some(v) = queue_capacity {
            config.producer.queue_capacity = v;
        }
        if let Some(v) = pull_batch_size {
            config.consumer.pull_batch_size = v;
        }
        if let Some(v) = pull_timeout_ms {
            config.consumer.pull_timeout = ms(v);
        }
        if let Some(v) = max_retry {
            config.consumer.max_retry = v;
        }
        if let Some(v) = retry_delay_ms {
            config.consumer.retry_delay = ms(v);
        }
        let client = py
            .detach(|| Client::new(config))
            .map_err(|e| errors::to_py(py, &e))?;
        Ok(Self {
            client,
            owner: Owner::current(),
        })
    }

    /// This client's id (`<hostname>@@<hex>`).
    #[getter]
    fn client_id(&self) -> String {
        self.client.client_id().as_str().to_owned()
    }

    /// Whether `close` has started.
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The producer of this client.
    fn producer(&self, py: Python<'_>) -> PyResult<ProducerRef> {
        self.owner.check(py)?;
        if self.client.is_closed() {
            return Err(errors::closed(py, "client"));
        }
        Ok(ProducerRef::new(self.client.clone(), self.owner))
    }

    /// A consumer of this client.
    fn consumer(&self, py: Python<'_>) -> PyResult<ConsumerRef> {
        self.owner.check(py)?;
        if self.client.is_closed() {
            return Err(errors::closed(py, "client"));
        }
        let consumer = self.client.consumer().map_err(|e| errors::to_py(py, &e))?;
        Ok(ConsumerRef::new(self.client.clone(), consumer, self.owner))
    }

    /// Stops accepting messages, waits up to `timeout_ms` for pending sends, then stops every
    /// task and subscription. Idempotent. The GIL is released meanwhile.
    fn close(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<()> {
        if std::process::id() != self.owner.pid() {
            // After fork the runtime's threads are gone; joining them would hang.
            return Ok(());
        }
        py.detach(|| self.client.close(ms(timeout_ms)))
            .map_err(|e| errors::to_py(py, &e))
    }
}
