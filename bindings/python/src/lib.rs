//! `qmq._native`: the pyo3 bridge between the Python package `qmq` and `qmq-core`.
//!
//! What it owns: conversion of Python values to core types and back, the mapping of core
//! errors to Python exceptions (`errors`), and waiting for the core without blocking the
//! interpreter. Every behaviour (batching, retries, acks, filters, idempotence, the
//! transactional outbox) lives in `qmq-core`; validation and defaults live in the Python
//! package. `transaction` hands the outbox and dedup SQL hooks to code that runs them on the
//! user's own DB-API connection.
//!
//! Handles are `<Object>Ref` classes wrapped by the Python `Client`, `Producer` and
//! `Consumer`; they are internal and have no API stability.
//!
//! Invariants:
//! * the GIL is released around every call that may block on the core (sends, pulls, acks,
//!   close), and blocking waits run in 100 ms slices with a signal check between them;
//! * no Python code runs on a core async worker: send completions go through one completion
//!   thread (`completion`), handlers run on the core's blocking pool (`listener`);
//! * no handle is usable after `fork()`; no panic crosses into Python (pyo3 turns a panic into
//!   `PanicException`, and the core catches panics in handlers and callbacks).
#![deny(unsafe_code)]

mod client;
mod completion;
mod consumer;
mod errors;
mod idempotence;
mod listener;
mod message;
mod producer;
mod transaction;

use pyo3::prelude::*;

/// The native module of `qmq`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::ClientRef>()?;
    m.add_class::<producer::ProducerRef>()?;
    m.add_class::<consumer::ConsumerRef>()?;
    m.add_class::<consumer::PullConsumerRef>()?;
    m.add_class::<listener::SubscriptionRef>()?;
    m.add_class::<message::DeliveredRef>()?;
    m.add_class::<idempotence::IdempotenceStoreRef>()?;
    m.add_class::<transaction::OutboxRef>()?;
    m.add_class::<transaction::PreparedRef>()?;
    m.add_function(wrap_pyfunction!(transaction::outbox_insert_sql, m)?)?;
    m.add_function(wrap_pyfunction!(transaction::outbox_sql, m)?)?;
    m.add_function(wrap_pyfunction!(transaction::dedup_insert_sql, m)?)?;
    m.add_function(wrap_pyfunction!(transaction::dedup_ddl, m)?)?;
    m.add_function(wrap_pyfunction!(transaction::idempotence_key, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
