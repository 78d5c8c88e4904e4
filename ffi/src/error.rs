//! Error objects: what every fallible export returns (`NULL` = success).
//!
//! A `QmqError` is owned by whoever received it from a function's return value and freed with
//! [`qmq_error_free`]. Errors handed to a callback are borrowed: valid only during that call
//! (copy them with [`qmq_error_clone`] to keep them).
//!
//! Invariants:
//! * codes are [`ErrorCode`] values with frozen discriminants (pinned by a test); a gap is a
//!   retired code, never reused;
//! * the message is UTF-8, never contains NUL, and is followed by a NUL terminator (not counted
//!   in its length) so C code may print it directly;
//! * [`from_client`] is the one place where core errors become codes.

use std::ffi::c_char;
use std::fmt::Write as _;

use qmq_core::client::ClientError;

use crate::guard::guard_or;

/// Stable error codes. `QMQ_ERROR_CODE_OK` (0) is what [`qmq_error_code`] reports for `NULL`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No error (only reported for a `NULL` error pointer).
    Ok = 0,
    /// A required pointer was `NULL`, a length or value is out of range, or a handle was used
    /// in a way its state does not allow (e.g. a message that was already sent).
    InvalidArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// The client, producer or consumer is closed or stopped.
    Closed = 3,
    /// A panic inside the library was caught; the operation did not complete.
    Panic = 4,
    /// The configuration was rejected (e.g. a bad meta URL or app code).
    Config = 5,
    /// A message, property, tag, subject, group or delivery time was rejected.
    InvalidMessage = 6,
    /// The producer queue is full; retry later.
    QueueFull = 7,
    /// A deadline passed (flush, close, stop, a request).
    Timeout = 8,
    /// Network or protocol trouble talking to meta or a broker.
    Network = 9,
    /// A server refused the request.
    Rejected = 10,
    /// No broker serves the subject (yet).
    NoRoute = 11,
    /// Sending a message failed after every allowed attempt.
    SendFailed = 12,
    /// A blocking function was called from a library thread (a callback or handler); call it
    /// from your own thread.
    BlockingInCallback = 13,
    /// The delivered message was already acked (or is acked by a handler's return value).
    AlreadyAcked = 14,
    /// The client's runtime could not start.
    Runtime = 15,
    /// An idempotence store failed.
    Idempotence = 16,
    /// A global tracing subscriber other than ours is installed, so logs cannot be forwarded.
    LogSinkUnavailable = 17,
    /// Anything else (an error this version of the ABI has no code for).
    Internal = 99,
}

impl ErrorCode {
    /// Every code, for tests and host bindings.
    pub fn all() -> [ErrorCode; 19] {
        ALL_CODES
    }

    /// The code with this number, if there is one.
    pub fn from_i32(value: i32) -> Option<Self> {
        ALL_CODES.into_iter().find(|c| *c as i32 == value)
    }
}

const ALL_CODES: [ErrorCode; 19] = [
    ErrorCode::Ok,
    ErrorCode::InvalidArgument,
    ErrorCode::InvalidUtf8,
    ErrorCode::Closed,
    ErrorCode::Panic,
    ErrorCode::Config,
    ErrorCode::InvalidMessage,
    ErrorCode::QueueFull,
    ErrorCode::Timeout,
    ErrorCode::Network,
    ErrorCode::Rejected,
    ErrorCode::NoRoute,
    ErrorCode::SendFailed,
    ErrorCode::BlockingInCallback,
    ErrorCode::AlreadyAcked,
    ErrorCode::Runtime,
    ErrorCode::Idempotence,
    ErrorCode::LogSinkUnavailable,
    ErrorCode::Internal,
];

/// An error object: code, message and retriable flag. Opaque to C.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: ErrorCode,
    retriable: bool,
    /// The message plus a trailing NUL.
    message: String,
}

impl Error {
    /// An error with `code`; not retriable.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::with_retriable(code, message, false)
    }

    /// An error with an explicit retriable flag.
    pub fn with_retriable(code: ErrorCode, message: impl Into<String>, retriable: bool) -> Self {
        let mut message: String = message.into();
        if message.contains('\0') {
            message = message.replace('\0', "\u{FFFD}");
        }
        message.push('\0');
        Self {
            code,
            retriable,
            message,
        }
    }

    /// `InvalidArgument`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument, message)
    }

    /// `InvalidArgument` for a `NULL` pointer.
    pub fn null(what: &str) -> Self {
        Self::invalid(format!("{what} is NULL"))
    }

    /// `Closed`.
    pub fn closed(what: &str) -> Self {
        Self::new(ErrorCode::Closed, format!("{what} is closed"))
    }

    /// `Panic`, with the panic's message when it is a string.
    pub fn panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("non-string panic payload");
        Self::new(ErrorCode::Panic, format!("panic in qmq: {what}"))
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retriable(&self) -> bool {
        self.retriable
    }

    /// The message (without the NUL terminator).
    pub fn message(&self) -> &str {
        &self.message[..self.message.len() - 1]
    }

    /// Moves the error to the heap for C.
    pub(crate) fn into_raw(self) -> *mut Error {
        Box::into_raw(Box::new(self))
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        from_client(&e)
    }
}

/// The one mapping from core errors to codes.
pub fn from_client(e: &ClientError) -> Error {
    use ClientError as E;
    let code = match e {
        E::Config(_) | E::InvalidMetaUrl { .. } => ErrorCode::Config,
        E::Idempotence(_) => ErrorCode::Idempotence,
        E::RuntimeBuild { .. } => ErrorCode::Runtime,
        E::BlockingInAsyncContext { .. } => ErrorCode::BlockingInCallback,
        E::RuntimeShutDown | E::ProducerClosed | E::ConsumerStopped { .. } => ErrorCode::Closed,
        E::MetaConnectTimeout { .. }
        | E::MetaReadTimeout { .. }
        | E::ConnectTimeout { .. }
        | E::RequestTimeout { .. }
        | E::FlushTimeout { .. } => ErrorCode::Timeout,
        E::MetaConnect { .. }
        | E::MetaIo { .. }
        | E::MetaHttpStatus { .. }
        | E::MetaHttpMalformed { .. }
        | E::MetaBadAddress { .. }
        | E::MetaLocateExhausted { .. }
        | E::Connect { .. }
        | E::ConnectionLost { .. }
        | E::ConnectionClosed { .. }
        | E::Protocol { .. } => ErrorCode::Network,
        E::ServerResponse { .. }
        | E::MetaRejected { .. }
        | E::SendRejected { .. }
        | E::SendBackRejected { .. } => ErrorCode::Rejected,
        E::NoRoute { .. } | E::NoAvailableBroker { .. } | E::BadBrokerAddress { .. } => {
            ErrorCode::NoRoute
        }
        E::QueueFull { .. } => ErrorCode::QueueFull,
        E::InvalidMessage { .. }
        | E::PropertyTooLong { .. }
        | E::ReservedProperty { .. }
        | E::InvalidScheduleTime { .. }
        | E::InvalidName { .. } => ErrorCode::InvalidMessage,
        E::SendExhausted { .. } | E::SendFailedCode { .. } => ErrorCode::SendFailed,
        _ => ErrorCode::Internal,
    };
    Error::with_retriable(code, chain(e), e.is_retriable())
}

/// `error: source: source…`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(out, ": {s}");
        source = s.source();
    }
    out
}

/// The code of `err`; `QMQ_ERROR_CODE_OK` for `NULL`.
///
/// # Safety
/// `err` is `NULL` or a live error object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_error_code(err: *const Error) -> ErrorCode {
    guard_or(ErrorCode::Panic, || {
        // SAFETY: the caller passes NULL or a live error.
        match unsafe { err.as_ref() } {
            Some(e) => e.code,
            None => ErrorCode::Ok,
        }
    })
}

/// The UTF-8 message of `err` (borrowed: valid until `err` is freed), its byte length in
/// `*out_len` (if `out_len` is not `NULL`). The bytes are followed by a NUL terminator that
/// the length does not count. `NULL` gives an empty string.
///
/// # Safety
/// `err` is `NULL` or a live error object; `out_len` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_error_message(
    err: *const Error,
    out_len: *mut usize,
) -> *const c_char {
    guard_or(c"".as_ptr(), || {
        // SAFETY: the caller passes NULL or a live error.
        let (ptr, len) = match unsafe { err.as_ref() } {
            Some(e) => (e.message.as_ptr().cast::<c_char>(), e.message.len() - 1),
            None => (c"".as_ptr(), 0),
        };
        if !out_len.is_null() {
            // SAFETY: checked non-NULL; the caller guarantees it is writable.
            unsafe { out_len.write(len) };
        }
        ptr
    })
}

/// Whether the failed operation may succeed if tried again later (network trouble, timeouts,
/// a full queue). `false` for `NULL`.
///
/// # Safety
/// `err` is `NULL` or a live error object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_error_is_retriable(err: *const Error) -> bool {
    guard_or(false, || {
        // SAFETY: the caller passes NULL or a live error.
        unsafe { err.as_ref() }.is_some_and(|e| e.retriable)
    })
}

/// A new, owned copy of `err` (free it with [`qmq_error_free`]); `NULL` for `NULL`. Use it to
/// keep an error handed to a callback, which is only borrowed.
///
/// # Safety
/// `err` is `NULL` or a live error object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_error_clone(err: *const Error) -> *mut Error {
    guard_or(std::ptr::null_mut(), || {
        // SAFETY: the caller passes NULL or a live error.
        match unsafe { err.as_ref() } {
            Some(e) => e.clone().into_raw(),
            None => std::ptr::null_mut(),
        }
    })
}

/// Frees an error returned by a qmq function (takes ownership). `NULL` is ignored. Never
/// free an error a callback was handed: it is borrowed.
///
/// # Safety
/// `err` is `NULL` or an owned error object not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_error_free(err: *mut Error) {
    guard_or((), || {
        if !err.is_null() {
            // SAFETY: an owned error came from `Box::into_raw` and is freed once (caller's duty).
            drop(unsafe { Box::from_raw(err) });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_frozen() {
        let pinned: Vec<(ErrorCode, i32)> =
            ErrorCode::all().iter().map(|c| (*c, *c as i32)).collect();
        assert_eq!(
            pinned,
            vec![
                (ErrorCode::Ok, 0),
                (ErrorCode::InvalidArgument, 1),
                (ErrorCode::InvalidUtf8, 2),
                (ErrorCode::Closed, 3),
                (ErrorCode::Panic, 4),
                (ErrorCode::Config, 5),
                (ErrorCode::InvalidMessage, 6),
                (ErrorCode::QueueFull, 7),
                (ErrorCode::Timeout, 8),
                (ErrorCode::Network, 9),
                (ErrorCode::Rejected, 10),
                (ErrorCode::NoRoute, 11),
                (ErrorCode::SendFailed, 12),
                (ErrorCode::BlockingInCallback, 13),
                (ErrorCode::AlreadyAcked, 14),
                (ErrorCode::Runtime, 15),
                (ErrorCode::Idempotence, 16),
                (ErrorCode::LogSinkUnavailable, 17),
                (ErrorCode::Internal, 99),
            ]
        );
        for c in ErrorCode::all() {
            assert_eq!(ErrorCode::from_i32(c as i32), Some(c));
        }
        assert_eq!(ErrorCode::from_i32(18), None);
    }

    #[test]
    fn messages_are_nul_terminated_and_nul_free() {
        let e = Error::invalid("a\0b");
        assert_eq!(e.message(), "a\u{FFFD}b");
        assert!(e.message.ends_with('\0'));
    }

    #[test]
    fn client_errors_keep_their_retriable_flag_and_source_chain() {
        let e = from_client(&ClientError::QueueFull { capacity: 3 });
        assert_eq!(e.code(), ErrorCode::QueueFull);
        assert!(e.is_retriable());
        let e = from_client(&ClientError::SendExhausted {
            message_id: "m".into(),
            attempts: 2,
            source: std::sync::Arc::new(ClientError::ProducerClosed),
        });
        assert_eq!(e.code(), ErrorCode::SendFailed);
        assert!(
            e.message().ends_with(": the producer is closed"),
            "{}",
            e.message()
        );
    }
}
