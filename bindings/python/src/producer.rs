//! `ProducerRef`: the core [`Producer`] behind the Python `qmq.Producer` and
//! `qmq.aio.Producer`.
//!
//! Every send goes through [`Producer::send_with_callback`]; blocking entry points wait for
//! the callbacks on a channel in short slices with the GIL released, checking for signals
//! between slices, so Ctrl-C interrupts them. A message accepted before an interrupt is still
//! sent.

use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use qmq_core::client::{Client, ClientError, Producer, ProducerMessage, SendReceipt, SendResult};

use crate::client::Owner;
use crate::completion;
use crate::errors;
use crate::message;

/// How long a blocking wait runs between two signal checks.
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Messages kept back from the queue's limit before a batch send clones a message so that it
/// can retry it after `QueueFull` (other threads may fill the queue meanwhile).
const HEADROOM: usize = 64;

/// `(message_id, broker_group, attempts)`, the shape `qmq.SendReceipt` is built from.
pub(crate) fn receipt_tuple<'py>(
    py: Python<'py>,
    r: &SendReceipt,
) -> PyResult<Bound<'py, PyTuple>> {
    (r.message_id.as_str(), r.broker_group.as_str(), r.attempts).into_pyobject(py)
}

/// Waits for one item, in slices, checking signals in between.
///
/// # Errors
/// The exception raised by a signal handler (`KeyboardInterrupt`).
pub(crate) fn wait_for<T: Send>(py: Python<'_>, rx: &Mutex<Receiver<T>>) -> PyResult<Option<T>> {
    loop {
        // Only this thread uses the receiver; the mutex makes it shareable with `detach`.
        match py.detach(|| {
            rx.lock()
                .unwrap_or_else(|e| e.into_inner())
                .recv_timeout(SLICE)
        }) {
            Ok(v) => return Ok(Some(v)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
        }
    }
}

/// The producer of one client.
#[pyclass(frozen, module = "qmq._native")]
pub struct ProducerRef {
    client: Client,
    producer: Producer,
    owner: Owner,
}

impl ProducerRef {
    pub(crate) fn new(client: Client, owner: Owner) -> Self {
        Self {
            producer: client.producer(),
            client,
            owner,
        }
    }

    /// The core producer (the outbox sends through it).
    pub(crate) fn core(&self) -> &Producer {
        &self.producer
    }

    /// The process that created this handle.
    pub(crate) fn owner(&self) -> Owner {
        self.owner
    }

    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.owner.check(py)?;
        if self.client.is_closed() {
            return Err(errors::closed(py, "producer"));
        }
        Ok(())
    }
}

#[pymethods]
impl ProducerRef {
    /// Sends one message and waits for its result; returns the receipt tuple. Interruptible.
    fn send<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.check(py)?;
        let built = message::build(&self.producer, message)?;
        let (tx, rx) = channel::<SendResult>();
        let rx = Mutex::new(rx);
        self.producer
            .send_with_callback(
                built,
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            )
            .map_err(|e| errors::to_py(py, &e))?;
        let result = wait_for(py, &rx)?.unwrap_or(Err(ClientError::ProducerClosed));
        match result {
            Ok(receipt) => receipt_tuple(py, &receipt),
            Err(e) => Err(errors::to_py(py, &e)),
        }
    }

    /// Queues one message; `callback(receipt_tuple, None)` or `callback(None, exception)` is
    /// called later on the completion thread. Raises at once if the message is refused
    /// (closed producer, full queue, invalid message); the callback is then never called.
    fn send_callback(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        self.check(py)?;
        let built = message::build(&self.producer, message)?;
        self.producer
            .send_with_callback(built, completion::send_callback(callback))
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Sends many messages and waits for all of them. Every message is read (and type-checked)
    /// before any is queued; a full queue makes this wait rather than fail. Returns, in order,
    /// a receipt tuple or an exception per message. Interruptible.
    fn send_batch<'py>(
        &self,
        py: Python<'py>,
        messages: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.check(py)?;
        let built: Vec<ProducerMessage> = messages
            .try_iter()
            .map_err(|_| errors::type_error("messages", "an iterable of qmq.Message", messages))?
            .map(|m| message::build(&self.producer, &m?))
            .collect::<PyResult<_>>()?;
        let total = built.len();
        let (tx, rx) = channel::<(usize, SendResult)>();
        let rx = Mutex::new(rx);
        let mut results: Vec<Option<SendResult>> = (0..total).map(|_| None).collect();
        let mut done = 0usize;
        let capacity = self.client.config().producer.queue_capacity;
        let record = |results: &mut Vec<Option<SendResult>>, (i, r): (usize, SendResult)| {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        };
        for (i, message) in built.into_iter().enumerate() {
            let mut message = Some(message);
            while let Some(m) = message.take() {
                let near_full = self.producer.pending() + HEADROOM >= capacity;
                if near_full && done < i {
                    // Wait for one of ours to complete (frees a slot), then try again.
                    // `None` cannot happen: this function holds a sender until all are queued.
                    if let Some(item) = wait_for(py, &rx)? {
                        record(&mut results, item);
                        done += 1;
                    }
                }
                let spare = near_full.then(|| m.clone());
                let tx = tx.clone();
                match self.producer.send_with_callback(
                    m,
                    Box::new(move |r| {
                        let _ = tx.send((i, r));
                    }),
                ) {
                    Ok(()) => {}
                    Err(ClientError::QueueFull { .. }) if spare.is_some() => {
                        py.detach(|| std::thread::sleep(Duration::from_millis(1)));
                        py.check_signals()?;
                        message = spare;
                    }
                    Err(e) => {
                        record(&mut results, (i, Err(e)));
                        done += 1;
                    }
                }
            }
        }
        drop(tx);
        while done < total {
            match wait_for(py, &rx)? {
                Some(item) => {
                    record(&mut results, item);
                    done += 1;
                }
                None => break,
            }
        }
        let items = results
            .into_iter()
            .map(|r| match r {
                Some(Ok(receipt)) => receipt_tuple(py, &receipt).map(Bound::into_any),
                Some(Err(e)) => Ok(errors::to_py(py, &e)
                    .into_value(py)
                    .into_bound(py)
                    .into_any()),
                None => Ok(errors::to_py(py, &ClientError::ProducerClosed)
                    .into_value(py)
                    .into_bound(py)
                    .into_any()),
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Waits up to `timeout_ms` until every accepted message has completed. Interruptible.
    fn flush(&self, py: Python<'_>, timeout_ms: u64) -> PyResult<()> {
        self.owner.check(py)?;
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let step = left.min(SLICE);
            match py.detach(|| self.producer.flush_blocking(step)) {
                Ok(()) => return Ok(()),
                Err(e) if left <= SLICE => return Err(errors::to_py(py, &e)),
                Err(_) => py.check_signals()?,
            }
        }
    }

    /// Messages accepted and not yet completed.
    #[getter]
    fn pending(&self) -> usize {
        self.producer.pending()
    }

    /// Whether the client is closed.
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }
}
