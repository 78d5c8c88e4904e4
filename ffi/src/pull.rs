//! `QmqPullConsumer`: the pull API — ask for up to n messages with a timeout, then ack each.
//!
//! Invariants:
//! * thread-safe: pulls from several threads are served one after another;
//! * the handle keeps the client's runtime alive (the client handle may be freed first), but
//!   closing the client stops it: pulls then fail with `QMQ_ERROR_CODE_CLOSED`;
//! * every message handed out is owned by the caller (see `delivered.rs`).

use std::ffi::c_char;
use std::time::Duration;

use qmq_core::client::Client as CoreClient;
use qmq_core::client::consumer::PullConsumer as CorePullConsumer;

use crate::client::Client;
use crate::delivered::Delivered;
use crate::error::Error;
use crate::guard::{
    Out, free_handle, guard_or, handle, into_handle, refuse_on_library_thread, run_ffi_safe,
    str_arg,
};
use crate::options::{ConsumeOptions, to_core};

/// A pull consumer. Opaque to C.
pub struct PullConsumer {
    consumer: CorePullConsumer,
    client: CoreClient,
}

/// Starts consuming `subject` as consumer group `group` (may be empty only for broadcast) and
/// stores the handle in `*out` (owned: free it with [`qmq_pull_consumer_free`]). `options` may
/// be `NULL` (defaults); it is copied. A new group starts with the messages sent after it
/// registered with the server (which happens in the background, within about a second).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for a bad subject or group, `QMQ_ERROR_CODE_CONFIG` for
/// bad options, `QMQ_ERROR_CODE_CLOSED` for a closed client, argument errors.
///
/// # Safety
/// `client` is `NULL` or live; the strings point to their lengths; `options` is `NULL` or
/// readable; `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_pull_consumer_new(
    client: *const Client,
    subject: *const c_char,
    subject_len: usize,
    group: *const c_char,
    group_len: usize,
    options: *const ConsumeOptions,
    out: *mut *mut PullConsumer,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: NULL or live by the caller's contract.
        let client = unsafe { handle(client, "client") }?;
        // SAFETY: pointer + length by the caller's contract.
        let subject = unsafe { str_arg(subject, subject_len, "subject") }?;
        // SAFETY: as above.
        let group = unsafe { str_arg(group, group_len, "group") }?;
        // SAFETY: NULL or readable by the caller's contract.
        let options = unsafe { to_core(options) }?;
        let consumer = client.consumer()?.pull_consumer(subject, group, options)?;
        out.write(into_handle(PullConsumer {
            consumer,
            client: client.core().clone(),
        }));
        Ok(())
    })
}

/// Waits until `max` messages are available or `timeout_ms` passed and stores what arrived
/// (possibly nothing) in `out_messages[0..*out_count]`. `out_messages` is the caller's array
/// of at least `max` pointers; each message stored there is owned by the caller: ack it once
/// with `qmq_delivered_ack`, then free it with `qmq_delivered_free`. Blocks the calling thread.
///
/// # Errors
/// `QMQ_ERROR_CODE_CLOSED` after [`qmq_pull_consumer_close`] or when the client is closed,
/// `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` from a library thread, argument errors. On error
/// `*out_count` is 0.
///
/// # Safety
/// `pc` is `NULL` or live; `out_messages` has room for `max` pointers; `out_count` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_pull_consumer_pull(
    pc: *const PullConsumer,
    out_messages: *mut *mut Delivered,
    max: usize,
    timeout_ms: u64,
    out_count: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let count = Out::new(out_count, "out_count")?;
        // Report 0 until messages are stored, so an error never leaves garbage behind.
        count.write(0);
        if max > 0 && out_messages.is_null() {
            return Err(Error::null("out_messages"));
        }
        // SAFETY: NULL or live by the caller's contract.
        let pc = unsafe { handle(pc, "pc") }?;
        refuse_on_library_thread("qmq_pull_consumer_pull")?;
        if pc.client.is_closed() {
            return Err(Error::closed("the client"));
        }
        let messages = pc
            .consumer
            .pull_blocking(max, Duration::from_millis(timeout_ms))?;
        let n = messages.len().min(max);
        for (i, m) in messages.into_iter().enumerate().take(n) {
            // SAFETY: `i < n <= max` and the caller provided room for `max` pointers.
            unsafe { out_messages.add(i).write(into_handle(Delivered::owned(m))) };
        }
        count.write(n);
        Ok(())
    })
}

/// Stops pulling, sends the acks of what was completed so far and waits (a few seconds at
/// most) for the consumer's tasks. Later pulls fail with `QMQ_ERROR_CODE_CLOSED`; the handle
/// must still be freed. Messages not acked yet are redelivered later. Blocks.
///
/// # Errors
/// `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` from a library thread.
///
/// # Safety
/// `pc` is `NULL` or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_pull_consumer_close(pc: *const PullConsumer) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let pc = unsafe { handle(pc, "pc") }?;
        refuse_on_library_thread("qmq_pull_consumer_close")?;
        pc.consumer.close_blocking()?;
        Ok(())
    })
}

/// Frees a pull consumer (takes ownership), stopping it without waiting. `NULL` is ignored.
/// Messages it handed out stay valid and must still be freed.
///
/// # Safety
/// `pc` is `NULL` or live, not used after this call (and no pull on it is running).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_pull_consumer_free(pc: *mut PullConsumer) {
    guard_or((), || {
        // SAFETY: NULL or made by `qmq_pull_consumer_new`, freed once (caller's contract).
        unsafe { free_handle(pc) }
    });
}
