//! The one place where core errors become JS errors.
//!
//! A napi error carries only a message, so the message is prefixed with
//! `QMQ|<ErrorClass>|<kind>|<retriable 0/1>|`; `index.js` parses it and throws the matching
//! `qmq` error class with `kind` and `retriable` set.

use napi::{Error, Status};
use qmq_core::client::ClientError;

/// A prefixed error for `class`.
pub(crate) fn qmq_error(class: &str, kind: &str, retriable: bool, message: &str) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("QMQ|{class}|{kind}|{}|{message}", u8::from(retriable)),
    )
}

/// Maps a core error to its JS error.
pub(crate) fn to_js(e: &ClientError) -> Error {
    qmq_error(
        e.category().class_name(),
        &e.kind(),
        e.is_retriable(),
        &e.describe(),
    )
}

/// `ClosedError` for an object used after `close()`.
pub(crate) fn closed(what: &str) -> Error {
    qmq_error(
        "ClosedError",
        "Closed",
        false,
        &format!("the {what} is closed"),
    )
}
