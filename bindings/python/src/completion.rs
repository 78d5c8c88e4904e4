//! Delivers send completions to Python callbacks without running Python on core threads.
//!
//! The core fires a send callback on one of its runtime workers, which must never wait for the
//! GIL (rule 11 of the FFI notes). The callback only pushes the result into a channel; one
//! process-wide thread, `qmq-py-completions`, drains it and calls the Python callbacks in
//! batches under one GIL acquisition. The Python side (`qmq/aio.py`) hands each result to its
//! event loop with `call_soon_threadsafe`, so no user code runs on this thread either.
//!
//! Invariants: every queued callback is called exactly once while the interpreter is alive;
//! if it is shutting down (`Python::try_attach` fails) the remaining callbacks are dropped
//! (their loops are gone anyway); a callback's exception is reported as unraisable and never
//! stops the thread.

use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};

use pyo3::prelude::*;
use qmq_core::client::{SendCallback, SendResult};

use crate::errors;
use crate::producer::receipt_tuple;

/// One finished send and the Python callable waiting for it.
struct Job {
    callback: Py<PyAny>,
    result: SendResult,
}

/// The most completions handed to Python under one GIL acquisition.
const BATCH: usize = 1024;

fn sender() -> &'static Sender<Job> {
    static TX: OnceLock<Sender<Job>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel();
        // If the thread cannot start, sends from callbacks fail and the jobs are dropped; the
        // Python futures then never resolve, so report it loudly instead.
        if let Err(e) = std::thread::Builder::new()
            .name("qmq-py-completions".to_owned())
            .spawn(move || run(rx))
        {
            eprintln!("qmq: cannot start the completion thread: {e}");
        }
        tx
    })
}

/// A core send callback that calls `callback(receipt_tuple, None)` or
/// `callback(None, exception)` on the completion thread.
pub(crate) fn send_callback(callback: Py<PyAny>) -> SendCallback {
    let tx = sender().clone();
    Box::new(move |result| {
        // The receiver lives as long as the process; a failed send means it never started.
        let _ = tx.send(Job { callback, result });
    })
}

fn run(rx: Receiver<Job>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let delivered = Python::try_attach(|py| {
            for job in batch.drain(..) {
                call(py, job);
            }
        });
        if delivered.is_none() {
            // The interpreter is finalizing: nobody can receive these results any more.
            batch.clear();
            return;
        }
    }
}

fn call(py: Python<'_>, job: Job) {
    let outcome = match job.result {
        Ok(receipt) => {
            receipt_tuple(py, &receipt).and_then(|r| job.callback.call1(py, (r, py.None())))
        }
        Err(e) => {
            let err = errors::to_py(py, &e).into_value(py);
            job.callback.call1(py, (py.None(), err))
        }
    };
    if let Err(e) = outcome {
        e.write_unraisable(py, Some(job.callback.bind(py)));
    }
}
