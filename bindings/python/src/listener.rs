//! The listener API: a Python callable as a core [`Handler`], and `SubscriptionRef`.
//!
//! The core runs handlers on its blocking pool, never on an async worker; the handler attaches
//! to the interpreter (takes the GIL) only for the call itself. The Python side wraps the user
//! function so that it returns `None` on success and the formatted traceback on an exception;
//! anything else that goes wrong (the wrapper raising, the interpreter shutting down) also
//! fails the message with a reason, so it is retried and never lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyString;
use qmq_core::client::consumer::{Handler, HandlerError, Subscription};
use qmq_core::protocol::Message;

use crate::message::DeliveredRef;
use crate::producer::SLICE;

/// Wraps `callback` as a core handler.
pub(crate) fn python_handler(callback: Py<PyAny>) -> Handler {
    Arc::new(move |message: &Message| {
        Python::try_attach(|py| call(py, &callback, message))
            .unwrap_or_else(|| Err(HandlerError::new("the Python interpreter is shutting down")))
    })
}

fn call(py: Python<'_>, callback: &Py<PyAny>, message: &Message) -> Result<(), HandlerError> {
    let view = Py::new(py, DeliveredRef::view(Arc::new(message.clone())))
        .map_err(|e| HandlerError::new(format_exception(py, &e)))?;
    match callback.call1(py, (view,)) {
        Ok(ret) if ret.is_none(py) => Ok(()),
        Ok(ret) => {
            let reason = ret
                .bind(py)
                .cast::<PyString>()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "handler failed".to_owned());
            Err(HandlerError::new(reason))
        }
        Err(e) => Err(HandlerError::new(format_exception(py, &e))),
    }
}

/// `traceback.format_exception` of `e`, or its `str` if that fails.
fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    let formatted = (|| -> PyResult<String> {
        let tb = py.import("traceback")?;
        let lines = tb.call_method1(
            "format_exception",
            (e.get_type(py), e.value(py), e.traceback(py)),
        )?;
        let text: Vec<String> = lines.extract()?;
        Ok(text.concat())
    })();
    formatted.unwrap_or_else(|_| e.to_string())
}

/// A running listener. Dropping it stops the subscription without waiting.
#[pyclass(frozen, module = "qmq._native")]
pub struct SubscriptionRef {
    sub: Subscription,
}

impl SubscriptionRef {
    pub(crate) fn new(sub: Subscription) -> Self {
        Self { sub }
    }
}

#[pymethods]
impl SubscriptionRef {
    /// Stops pulling, lets running handlers finish and flushes their acks, waiting up to
    /// `timeout_ms` (the GIL is released, so handlers can finish). Returns whether it fully
    /// stopped in time; a later call waits again. Interruptible.
    fn stop(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<bool> {
        self.sub.stop();
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        let mut since_check = Duration::ZERO;
        while !self.sub.is_stopped() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let nap = left.min(Duration::from_millis(10));
            py.detach(|| std::thread::sleep(nap));
            since_check += nap;
            if since_check >= SLICE {
                since_check = Duration::ZERO;
                py.check_signals()?;
            }
        }
        Ok(true)
    }

    /// Whether the listener has fully stopped.
    #[getter]
    fn stopped(&self) -> bool {
        self.sub.is_stopped()
    }

    /// The subject consumed.
    #[getter]
    fn subject(&self) -> &str {
        self.sub.subject()
    }

    /// The consumer group on the wire (the client id for broadcast).
    #[getter]
    fn group(&self) -> &str {
        self.sub.group()
    }
}
