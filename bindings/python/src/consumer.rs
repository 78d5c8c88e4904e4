//! `ConsumerRef` (the core [`Consumer`]) and `PullConsumerRef` (a [`PullConsumer`]) behind the
//! Python `qmq.Consumer` and `qmq.aio.Consumer`.
//!
//! Pulls wait in slices with the GIL released and check signals between slices, so Ctrl-C
//! interrupts a blocking pull; messages already received by an interrupted pull are failed
//! (the broker redelivers them through the retry subject), never lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use qmq_core::client::consumer::{ConsumeOptions, Consumer, PullConsumer};
use qmq_core::client::{Client, ClientError};
use qmq_core::protocol::TagType;

use crate::client::Owner;
use crate::errors;
use crate::idempotence::IdempotenceStoreRef;
use crate::listener::{SubscriptionRef, python_handler};
use crate::message::DeliveredRef;
use crate::producer::SLICE;

/// Consume options as the Python layer passes them (already type-checked there).
#[derive(FromPyObject)]
pub(crate) struct OptionsArg {
    tags: Vec<String>,
    tag_type: String,
    broadcast: bool,
    at_most_once: bool,
    max_retry: Option<u32>,
    idempotence: Option<Py<IdempotenceStoreRef>>,
    concurrency: usize,
}

impl OptionsArg {
    fn into_core(self, py: Python<'_>) -> PyResult<ConsumeOptions> {
        let tag_type = match self.tag_type.as_str() {
            "or" => TagType::Or,
            "and" => TagType::And,
            other => {
                return Err(errors::qmq_error(
                    py,
                    "InvalidArgumentError",
                    &format!("tag_type must be 'or' or 'and', not {other:?}"),
                    "Config",
                    false,
                ));
            }
        };
        Ok(ConsumeOptions {
            tags: self.tags,
            tag_type,
            broadcast: self.broadcast,
            at_most_once: self.at_most_once,
            max_retry: self.max_retry,
            idempotence: self.idempotence.map(|s| s.get().store()),
            concurrency: self.concurrency,
            ..ConsumeOptions::default()
        })
    }
}

/// The consumer of one client.
#[pyclass(frozen, module = "qmq._native")]
pub struct ConsumerRef {
    client: Client,
    consumer: Consumer,
    owner: Owner,
}

impl ConsumerRef {
    pub(crate) fn new(client: Client, consumer: Consumer, owner: Owner) -> Self {
        Self {
            client,
            consumer,
            owner,
        }
    }

    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.owner.check(py)?;
        if self.client.is_closed() {
            return Err(errors::closed(py, "consumer"));
        }
        Ok(())
    }
}

#[pymethods]
impl ConsumerRef {
    /// Starts consuming `subject` as `group` for explicit pulls.
    fn pull_consumer(
        &self,
        py: Python<'_>,
        subject: &str,
        group: &str,
        options: OptionsArg,
    ) -> PyResult<PullConsumerRef> {
        self.check(py)?;
        let options = options.into_core(py)?;
        let pc = self
            .consumer
            .pull_consumer(subject, group, options)
            .map_err(|e| errors::to_py(py, &e))?;
        Ok(PullConsumerRef {
            pc: Arc::new(pc),
            owner: self.owner,
        })
    }

    /// Starts a listener: `callback(DeliveredRef)` runs for each message on a core blocking
    /// thread (holding the GIL only while it runs). It returns `None` to ack, or a string —
    /// the failure reason, e.g. a formatted traceback — to have the message retried.
    fn subscribe(
        &self,
        py: Python<'_>,
        subject: &str,
        group: &str,
        options: OptionsArg,
        callback: Py<PyAny>,
    ) -> PyResult<SubscriptionRef> {
        self.check(py)?;
        let options = options.into_core(py)?;
        let sub = self
            .consumer
            .subscribe(subject, group, options, python_handler(callback))
            .map_err(|e| errors::to_py(py, &e))?;
        Ok(SubscriptionRef::new(sub))
    }
}

/// A subscription consumed by explicit pulls.
#[pyclass(frozen, module = "qmq._native")]
pub struct PullConsumerRef {
    pc: Arc<PullConsumer>,
    owner: Owner,
}

#[pymethods]
impl PullConsumerRef {
    /// Waits until `max` messages arrived or `timeout_ms` passed and returns what arrived
    /// (possibly nothing). Interruptible by signals (Ctrl-C) between 100 ms slices.
    fn pull(&self, py: Python<'_>, max: usize, timeout_ms: u64) -> PyResult<Vec<DeliveredRef>> {
        self.owner.check(py)?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let want = max.saturating_sub(got.len());
            let step = left.min(SLICE);
            let pc = self.pc.clone();
            let batch = py
                .detach(move || pc.pull_blocking(want, step))
                .map_err(|e| errors::to_py(py, &e))?;
            got.extend(batch);
            if got.len() >= max || left <= SLICE {
                break;
            }
            // On an interrupt the messages in `got` are dropped unacked: they are failed and
            // come back through the retry subject.
            py.check_signals()?;
        }
        Ok(got
            .into_iter()
            .map(|d| {
                let (message, ack) = d.into_parts();
                DeliveredRef::pulled(message, ack)
            })
            .collect())
    }

    /// The subject consumed.
    #[getter]
    fn subject(&self) -> &str {
        self.pc.subject()
    }

    /// The consumer group on the wire (the client id for broadcast).
    #[getter]
    fn group(&self) -> &str {
        self.pc.group()
    }

    /// Stops pulling and flushes the acks sent so far (a few seconds at most). Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if std::process::id() != self.owner.pid() {
            return Ok(());
        }
        let pc = self.pc.clone();
        match py.detach(move || pc.close_blocking()) {
            Ok(()) | Err(ClientError::RuntimeShutDown) => Ok(()),
            Err(e) => Err(errors::to_py(py, &e)),
        }
    }
}
