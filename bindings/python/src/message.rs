//! Messages across the bridge: the outgoing `qmq.Message` read into a core
//! [`ProducerMessage`], and [`DeliveredRef`], a received message (with its ack duty for the
//! pull API).
//!
//! The Python `Message` (`qmq/message.py`) validates types when it is built; this side reads
//! its slots (`subject`, `_properties`, `_tags`, `_delay_ms`, `_delay_until_ms`,
//! `_max_retries`) and lets the core check the values.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use qmq_core::client::consumer::delivery::AckHandle;
use qmq_core::client::{ClientError, Producer, ProducerMessage};
use qmq_core::protocol::Message;
use qmq_core::protocol::names::attr;

use crate::errors;

/// Reads one `qmq.Message` into a core message with a fresh id.
///
/// # Errors
/// `TypeError` for a value of the wrong type, `qmq.InvalidArgumentError` for a value the core
/// rejects (bad subject, reserved property, too many tags, ...).
pub(crate) fn build(producer: &Producer, obj: &Bound<'_, PyAny>) -> PyResult<ProducerMessage> {
    let py = obj.py();
    let map = |e: ClientError| errors::to_py(py, &e);
    let subject = obj
        .getattr(pyo3::intern!(py, "subject"))
        .map_err(|_| errors::type_error("message", "a qmq.Message", obj))?;
    let subject = subject
        .cast::<PyString>()
        .map_err(|_| errors::type_error("Message.subject", "str", &subject))?;
    let mut message = producer.generate_message(&subject.to_cow()?).map_err(map)?;

    let properties = obj.getattr(pyo3::intern!(py, "_properties"))?;
    if !properties.is_none() {
        let properties = properties
            .cast::<PyDict>()
            .map_err(|_| errors::type_error("Message.properties", "dict", &properties))?;
        for (key, value) in properties.iter() {
            let key_s = key
                .cast::<PyString>()
                .map_err(|_| errors::type_error("a property key", "str", &key))?;
            let value_s = value
                .cast::<PyString>()
                .map_err(|_| errors::type_error(&format!("property {key_s}"), "str", &value))?;
            message
                .set_property(&key_s.to_cow()?, value_s.to_cow()?)
                .map_err(map)?;
        }
    }

    let tags = obj.getattr(pyo3::intern!(py, "_tags"))?;
    if !tags.is_none() {
        let tags = tags
            .cast::<PyList>()
            .map_err(|_| errors::type_error("Message.tags", "list", &tags))?;
        for tag in tags.iter() {
            let tag_s = tag
                .cast::<PyString>()
                .map_err(|_| errors::type_error("a tag", "str", &tag))?;
            message.add_tag(&tag_s.to_cow()?).map_err(map)?;
        }
    }

    let delay_ms: Option<u64> = obj.getattr(pyo3::intern!(py, "_delay_ms"))?.extract()?;
    if let Some(ms) = delay_ms {
        message.set_delay(Duration::from_millis(ms)).map_err(map)?;
    }
    let until_ms: Option<u64> = obj
        .getattr(pyo3::intern!(py, "_delay_until_ms"))?
        .extract()?;
    if let Some(ms) = until_ms {
        message
            .set_delay_until(UNIX_EPOCH + Duration::from_millis(ms))
            .map_err(map)?;
    }
    let max_retries: Option<u32> = obj.getattr(pyo3::intern!(py, "_max_retries"))?.extract()?;
    if let Some(max) = max_retries {
        message.set_max_retries(max);
    }
    Ok(message)
}

/// A received message. For the pull API it also holds the duty to ack it once; the
/// listener acks by the handler's outcome, so its messages have no ack handle.
#[pyclass(frozen, module = "qmq._native")]
pub struct DeliveredRef {
    message: Arc<Message>,
    ack: Mutex<Option<AckHandle>>,
}

impl DeliveredRef {
    /// A message with an ack duty (pull API).
    pub(crate) fn pulled(message: Arc<Message>, ack: AckHandle) -> Self {
        Self {
            message,
            ack: Mutex::new(Some(ack)),
        }
    }

    /// A message acked by its handler's outcome (listener API).
    pub(crate) fn view(message: Arc<Message>) -> Self {
        Self {
            message,
            ack: Mutex::new(None),
        }
    }

    fn take_ack(&self) -> Option<AckHandle> {
        self.ack.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[pymethods]
impl DeliveredRef {
    /// The (real) subject.
    #[getter]
    fn subject(&self) -> &str {
        &self.message.header.subject
    }

    /// The message id.
    #[getter]
    fn message_id(&self) -> &str {
        &self.message.header.message_id
    }

    /// The tags.
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.message.header.tags.clone()
    }

    /// Creation time, epoch milliseconds.
    #[getter]
    fn created_ms(&self) -> i64 {
        self.message.header.created_time
    }

    /// Delivery attempt number (`qmq_times`, 1 for a first delivery).
    #[getter]
    fn times(&self) -> u32 {
        self.message
            .attr(attr::TIMES)
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// Every attribute as `(key, value)` pairs in wire order (reserved `qmq_*` ones included).
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .message
            .attrs
            .iter()
            .map(|(k, v)| PyTuple::new(py, [k.as_str(), v.as_str()]))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// One attribute, or `None`.
    fn get(&self, key: &str) -> Option<&str> {
        self.message.attr(key)
    }

    /// A QMQ large string (`key#part0..N`), or `None`.
    fn get_large_string(&self, key: &str) -> Option<String> {
        qmq_core::client::producer::message::get_large_string(&self.message.attrs, key)
    }

    /// Whether an ack is still owed.
    #[getter]
    fn needs_ack(&self) -> bool {
        self.ack.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Acks (`reason is None`) or fails (retry) the message. Returns `False` if it was already
    /// completed (or has no ack duty).
    /// The GIL is released: completing may run idempotence-store and filter hooks.
    #[pyo3(signature = (reason=None))]
    fn complete(&self, py: Python<'_>, reason: Option<String>) -> bool {
        let Some(ack) = self.take_ack() else {
            return false;
        };
        py.detach(|| match reason {
            None => ack.ack(),
            Some(reason) => ack.ack_error(reason),
        });
        true
    }
}
