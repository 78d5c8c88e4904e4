//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in pure Python (`qmq/errors.py`) so that they can use
//! multiple inheritance (`InvalidArgumentError` is also a `ValueError`); this module looks them
//! up by name. Every raised exception carries `kind` (the core variant's name) and `retriable`
//! (from [`ClientError::is_retriable`]).

use std::error::Error as _;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use qmq_core::client::ClientError;

/// The Python exception class (in `qmq.errors`) for a core error.
fn class_name(e: &ClientError) -> &'static str {
    match e {
        ClientError::ProducerClosed
        | ClientError::RuntimeShutDown
        | ClientError::ConsumerStopped { .. } => "ClosedError",
        ClientError::QueueFull { .. } => "QueueFullError",
        ClientError::Config(_)
        | ClientError::InvalidName { .. }
        | ClientError::InvalidMessage { .. }
        | ClientError::PropertyTooLong { .. }
        | ClientError::ReservedProperty { .. }
        | ClientError::InvalidScheduleTime { .. }
        | ClientError::InvalidMetaUrl { .. } => "InvalidArgumentError",
        ClientError::SendRejected { .. }
        | ClientError::SendExhausted { .. }
        | ClientError::SendFailedCode { .. }
        | ClientError::NoRoute { .. }
        | ClientError::NoAvailableBroker { .. } => "SendError",
        _ => "QmqError",
    }
}

/// The variant name of a core error (`"QueueFull"`), from its `Debug` form.
fn kind(e: &ClientError) -> String {
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("Unknown")
        .to_owned()
}

/// The error's message followed by its chain of causes.
pub(crate) fn describe(e: &ClientError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Looks an exception class up in `qmq.errors`.
fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("qmq.errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

/// Builds a `qmq.errors.*` exception for `name` with `message`, `kind` and `retriable`.
pub(crate) fn qmq_error(
    py: Python<'_>,
    name: &str,
    message: &str,
    kind: &str,
    retriable: bool,
) -> PyErr {
    let built = error_class(py, name).and_then(|cls| {
        let value = cls.call1((message,))?;
        value.setattr("kind", kind)?;
        value.setattr("retriable", retriable)?;
        Ok(PyErr::from_value(value))
    });
    // `qmq.errors` is part of the package; failing to load it means a broken installation.
    built.unwrap_or_else(|e| PyRuntimeError::new_err(format!("{message} (and {e})")))
}

/// Maps a core error to its Python exception.
pub(crate) fn to_py(py: Python<'_>, e: &ClientError) -> PyErr {
    qmq_error(py, class_name(e), &describe(e), &kind(e), e.is_retriable())
}

/// `qmq.errors.ClosedError` for an object used after `close()`.
pub(crate) fn closed(py: Python<'_>, what: &str) -> PyErr {
    qmq_error(
        py,
        "ClosedError",
        &format!("the {what} is closed"),
        "Closed",
        false,
    )
}

/// A `TypeError` naming the argument and the type that was expected.
pub(crate) fn type_error(what: &str, expected: &str, got: &Bound<'_, PyAny>) -> PyErr {
    let got = got
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string());
    PyTypeError::new_err(format!("{what} must be {expected}, not {got}"))
}
