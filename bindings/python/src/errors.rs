//! The one place where core errors become Python exceptions.
//!
//! The exception classes are defined in pure Python (`qmq/errors.py`) so that they can use
//! multiple inheritance (`InvalidArgumentError` is also a `ValueError`); this module looks them
//! up by name. Every raised exception carries `kind` (the core variant's name) and `retriable`
//! (from [`ClientError::is_retriable`]).

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyType;
use qmq_core::client::ClientError;

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
    qmq_error(
        py,
        e.category().class_name(),
        &e.describe(),
        &e.kind(),
        e.is_retriable(),
    )
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
