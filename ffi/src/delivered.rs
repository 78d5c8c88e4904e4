//! `QmqDelivered`: a message handed to the consumer, with its accessors and its ack.
//!
//! Two kinds share the type:
//! * **owned** (from [`crate::pull::qmq_pull_consumer_pull`]): the caller acks it exactly once
//!   with [`qmq_delivered_ack`] and frees it with [`qmq_delivered_free`]; freeing it unacked
//!   counts as a failure (the message is retried), as QMQ retries un-acked messages;
//! * **borrowed** (handed to a subscription handler): valid only during the handler call; its
//!   ack is the handler's return value, so `qmq_delivered_ack` fails with
//!   `QMQ_ERROR_CODE_ALREADY_ACKED`, and it must not be freed.
//!
//! Strings returned by accessors are borrowed from the handle (not NUL-terminated). Accessors
//! and the ack may be called from any thread; the ack is serialised by a lock.

use std::ffi::c_char;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use qmq_core::client::consumer::{AckHandle, DeliveredMessage, HandlerError};
use qmq_core::protocol::Message as CoreMessage;
use qmq_core::protocol::names::attr;

use crate::error::{Error, ErrorCode};
use crate::guard::{Out, StrOut, free_handle, guard_or, handle, item_at, run_ffi_safe, str_arg};

enum MessageRef {
    Owned(Arc<CoreMessage>),
    /// Valid for the handler call that created the `Delivered` on its stack.
    Borrowed(NonNull<CoreMessage>),
}

/// A delivered message. Opaque to C.
pub struct Delivered {
    message: MessageRef,
    ack: Mutex<Option<AckHandle>>,
}

impl Delivered {
    /// An owned delivery (pull API).
    pub(crate) fn owned(delivered: DeliveredMessage) -> Self {
        let (message, ack) = delivered.into_parts();
        Self {
            message: MessageRef::Owned(message),
            ack: Mutex::new(Some(ack)),
        }
    }

    /// A view of `message` for one handler call; it must not outlive `message`.
    pub(crate) fn borrowed(message: &CoreMessage) -> Self {
        Self {
            message: MessageRef::Borrowed(NonNull::from(message)),
            ack: Mutex::new(None),
        }
    }

    fn message(&self) -> &CoreMessage {
        match &self.message {
            MessageRef::Owned(m) => m,
            // SAFETY: a borrowed view lives on the handler's stack frame, inside the lifetime of
            // the message it points to (see `subscription.rs`), and C may use it only during
            // the handler call.
            MessageRef::Borrowed(p) => unsafe { p.as_ref() },
        }
    }
}

/// # Safety
/// `msg` is `NULL` or a live delivered message.
unsafe fn message<'a>(msg: *const Delivered) -> Result<&'a CoreMessage, Error> {
    // SAFETY: NULL or live by the caller's contract.
    Ok(unsafe { handle(msg, "msg") }?.message())
}

/// The subject (the real subject, also for retried messages), borrowed from `msg`.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_subject(
    msg: *const Delivered,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        out.set(&unsafe { message(msg) }?.header.subject);
        Ok(())
    })
}

/// The message id, borrowed from `msg`.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_id(
    msg: *const Delivered,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        out.set(&unsafe { message(msg) }?.header.message_id);
        Ok(())
    })
}

/// Looks a property up: the value borrowed from `msg`, or `NULL`/0 if absent.
///
/// # Safety
/// `msg` is `NULL` or live; `key` points to `key_len` bytes; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_get_property(
    msg: *const Delivered,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: pointer + length by the caller's contract.
        let key = unsafe { str_arg(key, key_len, "key") }?;
        // SAFETY: NULL or live by the caller's contract.
        out.set_opt(unsafe { message(msg) }?.attr(key));
        Ok(())
    })
}

/// The number of properties (user and QMQ's own), in `*out_count`.
///
/// # Safety
/// `msg` is `NULL` or live; `out_count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_property_count(
    msg: *const Delivered,
    out_count: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out_count, "out_count")?;
        // SAFETY: NULL or live by the caller's contract.
        out.write(unsafe { message(msg) }?.attrs.len());
        Ok(())
    })
}

/// Property number `index` (wire order): key and value, borrowed from `msg`.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for an index out of range.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_property_at(
    msg: *const Delivered,
    index: usize,
    out_key: *mut *const c_char,
    out_key_len: *mut usize,
    out_value: *mut *const c_char,
    out_value_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let key_out = StrOut::new(out_key, out_key_len)?;
        let value_out = StrOut::new(out_value, out_value_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let attrs = &unsafe { message(msg) }?.attrs;
        let (k, v) = item_at(attrs, index, "property")?;
        key_out.set(k);
        value_out.set(v);
        Ok(())
    })
}

/// The number of tags, in `*out_count`.
///
/// # Safety
/// `msg` is `NULL` or live; `out_count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_tags_count(
    msg: *const Delivered,
    out_count: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out_count, "out_count")?;
        // SAFETY: NULL or live by the caller's contract.
        out.write(unsafe { message(msg) }?.header.tags.len());
        Ok(())
    })
}

/// Tag number `index`, borrowed from `msg`.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for an index out of range.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_tags_get(
    msg: *const Delivered,
    index: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let tags = &unsafe { message(msg) }?.header.tags;
        let tag = item_at(tags, index, "tag")?;
        out.set(tag);
        Ok(())
    })
}

/// The delivery attempt (`qmq_times`: 1 for a first delivery), in `*out_times`.
///
/// # Safety
/// `msg` is `NULL` or live; `out_times` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_times(
    msg: *const Delivered,
    out_times: *mut u32,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out_times, "out_times")?;
        // SAFETY: NULL or live by the caller's contract.
        let m = unsafe { message(msg) }?;
        let times = m
            .attr(attr::TIMES)
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        out.write(times);
        Ok(())
    })
}

/// Completes a pulled message, exactly once: `success` acks it; otherwise it is sent to the
/// retry subject (dead-letter after the last try) with `error_text` (copied; may be `NULL`/0)
/// as the reason in logs. The handle stays valid and must still be freed.
///
/// # Errors
/// `QMQ_ERROR_CODE_ALREADY_ACKED` for a second ack or a handler's borrowed message; argument
/// errors (the message is then not acked).
///
/// # Safety
/// `msg` is `NULL` or live; `error_text` points to `error_text_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_ack(
    msg: *const Delivered,
    success: bool,
    error_text: *const c_char,
    error_text_len: usize,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        // SAFETY: pointer + length by the caller's contract.
        let text = unsafe { str_arg(error_text, error_text_len, "error_text") }?;
        if matches!(msg.message, MessageRef::Borrowed(_)) {
            return Err(Error::new(
                ErrorCode::AlreadyAcked,
                "a handler's message is acked by the handler's return value",
            ));
        }
        let ack = msg.ack.lock().unwrap_or_else(|e| e.into_inner()).take();
        let ack = ack
            .ok_or_else(|| Error::new(ErrorCode::AlreadyAcked, "the message was already acked"))?;
        if success {
            ack.ack();
        } else {
            let reason = if text.is_empty() {
                "failed by the consumer"
            } else {
                text
            };
            ack.ack_error(HandlerError::new(reason));
        }
        Ok(())
    })
}

/// Frees a pulled message (takes ownership); one not acked counts as failed and is retried.
/// `NULL` is ignored. Never pass a handler's borrowed message.
///
/// # Safety
/// `msg` is `NULL` or an owned delivered message, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_delivered_free(msg: *mut Delivered) {
    guard_or((), || {
        // SAFETY: NULL, or made by `qmq_pull_consumer_pull` and freed once (caller's contract).
        // A borrowed view is refused: it lives on a handler's stack.
        if let Some(m) = unsafe { msg.as_ref() } {
            if matches!(m.message, MessageRef::Borrowed(_)) {
                return;
            }
            // SAFETY: as above.
            unsafe { free_handle(msg) }
        }
    });
}
