//! The one place where core errors become JS errors.
//!
//! A napi error carries only a message, so the message is prefixed with
//! `QMQ|<ErrorClass>|<kind>|<retriable 0/1>|`; `index.js` parses it and throws the matching
//! `qmq` error class with `kind` and `retriable` set.

use std::error::Error as _;

use napi::{Error, Status};
use qmq_core::client::ClientError;

/// The JS error class (exported by `qmq`) for a core error.
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
    format!("{e:?}")
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

/// A prefixed error for `class`.
pub(crate) fn qmq_error(class: &str, kind: &str, retriable: bool, message: &str) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("QMQ|{class}|{kind}|{}|{message}", u8::from(retriable)),
    )
}

/// Maps a core error to its JS error.
pub(crate) fn to_js(e: &ClientError) -> Error {
    qmq_error(class_name(e), &kind(e), e.is_retriable(), &describe(e))
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
