//! The one place where errors become Java exceptions.
//!
//! Core errors map by [`ClientError::category`] to `QmqException` and its subclasses
//! `ClosedException`, `QueueFullException`, `InvalidArgumentException` and `SendException`
//! (all unchecked); each carries the core variant's name as `kind` and
//! [`ClientError::is_retriable`]. Bridge-level failures (a bad argument, a closed handle, a
//! panic) use the same classes.

use jni::JNIEnv;
use jni::objects::{JObject, JValue};
use qmq_core::client::{ClientError, ErrorCategory};

use crate::onload::{self, ExceptionClass};

/// Everything an export can fail with.
#[derive(Debug)]
pub(crate) enum BridgeError {
    /// A core error.
    Client(ClientError),
    /// A handle used after close.
    Closed(&'static str),
    /// A bad argument caught by the bridge (null where a value is required, a bad code).
    InvalidArgument(String),
    /// A JNI call failed; if it raised a Java exception, that one stays pending.
    Jni(jni::errors::Error),
    /// The bridge itself panicked (a bug); the reason is the panic message.
    Panic(String),
}

impl From<ClientError> for BridgeError {
    fn from(e: ClientError) -> Self {
        Self::Client(e)
    }
}

impl From<jni::errors::Error> for BridgeError {
    fn from(e: jni::errors::Error) -> Self {
        Self::Jni(e)
    }
}

/// The exception class for a core error.
pub(crate) fn class_of(e: &ClientError) -> ExceptionClass {
    match e.category() {
        ErrorCategory::Closed => ExceptionClass::Closed,
        ErrorCategory::QueueFull => ExceptionClass::QueueFull,
        ErrorCategory::InvalidArgument => ExceptionClass::InvalidArgument,
        ErrorCategory::Send => ExceptionClass::Send,
        ErrorCategory::Other => ExceptionClass::Qmq,
    }
}

/// `(class, message, kind, retriable)` of a bridge error; `None` when a Java exception is
/// already pending.
fn parts(e: &BridgeError) -> Option<(ExceptionClass, String, String, bool)> {
    Some(match e {
        BridgeError::Client(c) => (class_of(c), c.describe(), c.kind(), c.is_retriable()),
        BridgeError::Closed(what) => (
            ExceptionClass::Closed,
            format!("the {what} is closed"),
            "Closed".to_owned(),
            false,
        ),
        BridgeError::InvalidArgument(m) => (
            ExceptionClass::InvalidArgument,
            m.clone(),
            "InvalidArgument".to_owned(),
            false,
        ),
        BridgeError::Jni(jni::errors::Error::JavaException) => return None,
        BridgeError::Jni(j) => (
            ExceptionClass::Qmq,
            format!("JNI call failed: {j}"),
            "Jni".to_owned(),
            false,
        ),
        BridgeError::Panic(m) => (
            ExceptionClass::Qmq,
            format!("qmq native library panicked: {m}"),
            "Panic".to_owned(),
            false,
        ),
    })
}

/// Builds (does not throw) the exception object for `class`.
pub(crate) fn exception_object<'l>(
    env: &mut JNIEnv<'l>,
    class: ExceptionClass,
    message: &str,
    kind: &str,
    retriable: bool,
) -> jni::errors::Result<JObject<'l>> {
    let Some(cls) = onload::cache().and_then(|c| c.exception(class)) else {
        return Err(jni::errors::Error::NullPtr("exception class cache"));
    };
    env.with_local_frame_returning_local(8, |env| {
        let message = env.new_string(message)?;
        let kind = env.new_string(kind)?;
        env.new_object(
            <&jni::objects::JClass<'_>>::from(cls.as_obj()),
            onload::EXCEPTION_CTOR,
            &[
                JValue::Object(&message),
                JValue::Object(&kind),
                JValue::Bool(u8::from(retriable)),
            ],
        )
    })
}

/// The exception object for a core error (for completions delivered later).
pub(crate) fn client_exception<'l>(
    env: &mut JNIEnv<'l>,
    e: &ClientError,
) -> jni::errors::Result<JObject<'l>> {
    exception_object(env, class_of(e), &e.describe(), &e.kind(), e.is_retriable())
}

/// Throws `e` into the calling Java thread (unless an exception is already pending).
pub(crate) fn throw(env: &mut JNIEnv<'_>, e: &BridgeError) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    let Some((class, message, kind, retriable)) = parts(e) else {
        return;
    };
    match exception_object(env, class, &message, &kind, retriable) {
        Ok(obj) => {
            let thrown = jni::objects::JThrowable::from(obj);
            if env.throw(&thrown).is_err() {
                let _ = env.throw_new("java/lang/RuntimeException", &message);
            }
        }
        Err(_) => {
            if !env.exception_check().unwrap_or(true) {
                let _ = env.throw_new("java/lang/RuntimeException", &message);
            }
        }
    }
}
