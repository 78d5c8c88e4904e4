//! `QmqMessage`: a message being built for sending.
//!
//! Invariants:
//! * a message handle has one owner and is not thread-safe (use it from one thread at a time);
//! * [`crate::producer::qmq_producer_send`] moves the content into the producer: the handle
//!   becomes *spent* — every accessor then fails with `QMQ_ERROR_CODE_INVALID_ARGUMENT` — but
//!   it must still be freed with [`qmq_message_free`] (every `qmq_message_new` is paired with
//!   exactly one `qmq_message_free`);
//! * strings returned by accessors are borrowed from the handle: valid until the message is
//!   changed, sent or freed. They are not NUL-terminated.

use std::ffi::c_char;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmq_core::client::{ClientError, ProducerMessage};

use crate::client::Client;
use crate::error::Error;
use crate::guard::{
    FfiResult, Out, StrOut, free_handle, guard_or, handle, handle_mut, into_handle, item_at,
    run_ffi_safe, str_arg,
};

/// A message under construction. Opaque to C.
pub struct Message {
    inner: Option<ProducerMessage>,
}

impl Message {
    fn live(&self) -> FfiResult<&ProducerMessage> {
        self.inner.as_ref().ok_or_else(spent)
    }

    fn live_mut(&mut self) -> FfiResult<&mut ProducerMessage> {
        self.inner.as_mut().ok_or_else(spent)
    }

    /// Takes the content out for sending.
    pub(crate) fn take(&mut self) -> FfiResult<ProducerMessage> {
        self.inner.take().ok_or_else(spent)
    }
}

fn spent() -> Error {
    Error::invalid("the message was already sent; create a new one")
}

/// Creates a message for `subject` with a fresh QMQ message id and stores it in `*out` (owned
/// by the caller: free it with [`qmq_message_free`], also after sending it).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for a bad subject (empty, `/` or whitespace),
/// `QMQ_ERROR_CODE_CLOSED` for a closed client, argument errors.
///
/// # Safety
/// `client` is `NULL` or live; `subject` points to `subject_len` bytes; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_new(
    client: *const Client,
    subject: *const c_char,
    subject_len: usize,
    out: *mut *mut Message,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: NULL or live by the caller's contract.
        let client = unsafe { handle(client, "client") }?;
        // SAFETY: pointer + length by the caller's contract.
        let subject = unsafe { str_arg(subject, subject_len, "subject") }?;
        let message = client.live()?.producer().generate_message(subject)?;
        out.write(into_handle(Message {
            inner: Some(message),
        }));
        Ok(())
    })
}

/// Sets a string property (copied). Values longer than 32767 UTF-8 bytes are rejected; use
/// [`qmq_message_set_large_string`] for those.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for a reserved or empty key or an over-long value,
/// argument errors.
///
/// # Safety
/// `msg` is `NULL` or live; `key`/`value` point to their lengths in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_set_property(
    msg: *mut Message,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> *mut Error {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set_key_value(msg, key, key_len, value, value_len, |m, k, v| {
            m.set_property(k, v).map(drop)
        })
    }
}

/// Stores a value of any length as QMQ's large string (properties `key#part0..N`).
///
/// # Errors
/// As [`qmq_message_set_property`] for the key.
///
/// # Safety
/// As [`qmq_message_set_property`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_set_large_string(
    msg: *mut Message,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
) -> *mut Error {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        set_key_value(msg, key, key_len, value, value_len, |m, k, v| {
            m.set_large_string(k, v).map(drop)
        })
    }
}

/// The body of the key/value setters: checks the handle and both strings, then applies `set`.
///
/// # Safety
/// As [`qmq_message_set_property`].
unsafe fn set_key_value(
    msg: *mut Message,
    key: *const c_char,
    key_len: usize,
    value: *const c_char,
    value_len: usize,
    set: impl FnOnce(&mut ProducerMessage, &str, &str) -> Result<(), ClientError>,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live and unaliased by the caller's contract.
        let msg = unsafe { handle_mut(msg, "msg") }?;
        // SAFETY: pointer + length by the caller's contract.
        let key = unsafe { str_arg(key, key_len, "key") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value, value_len, "value") }?;
        set(msg.live_mut()?, key, value)?;
        Ok(())
    })
}

/// Looks a property up: `*out_ptr`/`*out_len` get the value (borrowed from the message), or
/// `NULL`/0 if the property is absent.
///
/// # Errors
/// Argument errors only.
///
/// # Safety
/// `msg` is `NULL` or live; `key` points to `key_len` bytes; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_get_property(
    msg: *const Message,
    key: *const c_char,
    key_len: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        // SAFETY: pointer + length by the caller's contract.
        let key = unsafe { str_arg(key, key_len, "key") }?;
        out.set_opt(msg.live()?.property(key));
        Ok(())
    })
}

/// Adds a tag (copied; adding one twice keeps one; at most 10).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for an empty or over-long tag or an 11th tag.
///
/// # Safety
/// `msg` is `NULL` or live; `tag` points to `tag_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_add_tag(
    msg: *mut Message,
    tag: *const c_char,
    tag_len: usize,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live and unaliased by the caller's contract.
        let msg = unsafe { handle_mut(msg, "msg") }?;
        // SAFETY: pointer + length by the caller's contract.
        let tag = unsafe { str_arg(tag, tag_len, "tag") }?;
        msg.live_mut()?.add_tag(tag)?;
        Ok(())
    })
}

/// The number of tags, in `*out_count`.
///
/// # Safety
/// `msg` is `NULL` or live; `out_count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_tags_count(
    msg: *const Message,
    out_count: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out_count, "out_count")?;
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        out.write(msg.live()?.tags().len());
        Ok(())
    })
}

/// Tag number `index` (in the order added), borrowed from the message.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for an index out of range.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_tags_get(
    msg: *const Message,
    index: usize,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        let tags = msg.live()?.tags();
        let tag = item_at(tags, index, "tag")?;
        out.set(tag);
        Ok(())
    })
}

/// Delivers the message `delay_ms` milliseconds from now (less than 500 ms ahead at send
/// time means an ordinary message).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` if the time is not representable.
///
/// # Safety
/// `msg` is `NULL` or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_set_delay_ms(msg: *mut Message, delay_ms: u64) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live and unaliased by the caller's contract.
        let msg = unsafe { handle_mut(msg, "msg") }?;
        msg.live_mut()?.set_delay(Duration::from_millis(delay_ms))?;
        Ok(())
    })
}

/// Delivers the message at `epoch_ms` (milliseconds since 1970-01-01 UTC).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for a negative time.
///
/// # Safety
/// `msg` is `NULL` or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_set_delay_until(
    msg: *mut Message,
    epoch_ms: i64,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live and unaliased by the caller's contract.
        let msg = unsafe { handle_mut(msg, "msg") }?;
        let at = if epoch_ms >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_millis(epoch_ms.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_millis(epoch_ms.unsigned_abs()))
        };
        let at: SystemTime =
            at.ok_or_else(|| Error::invalid(format!("epoch_ms {epoch_ms} is out of range")))?;
        msg.live_mut()?.set_delay_until(at)?;
        Ok(())
    })
}

/// The subject, borrowed from the message.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_subject(
    msg: *const Message,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        out.set(msg.live()?.subject());
        Ok(())
    })
}

/// The message id (QMQ format), borrowed from the message.
///
/// # Safety
/// `msg` is `NULL` or live; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_id(
    msg: *const Message,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let msg = unsafe { handle(msg, "msg") }?;
        out.set(msg.live()?.message_id());
        Ok(())
    })
}

/// Frees a message handle (sent or not; takes ownership). `NULL` is ignored.
///
/// # Safety
/// `msg` is `NULL` or a live message handle, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_message_free(msg: *mut Message) {
    guard_or((), || {
        // SAFETY: NULL or made by `qmq_message_new`, freed once (caller's contract).
        unsafe { free_handle(msg) }
    });
}
