//! Sending: [`qmq_producer_send`] with an exactly-once completion callback,
//! [`qmq_producer_flush`], and the `QmqSendResult` a successful send reports.
//!
//! Invariants:
//! * `qmq_producer_send` returning `NULL` means the message was accepted and the callback runs
//!   **exactly once** later — with a result or an error, also when the client closes or is
//!   freed (`QMQ_ERROR_CODE_CLOSED`), and also if the library panics while completing
//!   (`QMQ_ERROR_CODE_PANIC`). Returning an error means the callback is **never** called;
//! * the callback runs on a library thread (a runtime worker, or the thread closing the
//!   client). It must not block; it may call non-blocking functions (e.g. send another
//!   message); blocking ones fail there with `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK`;
//! * the `QmqSendResult *` and `QmqError *` it receives are **borrowed**: valid only during the
//!   callback, freed by the library afterwards. Copy what you need
//!   ([`crate::error::qmq_error_clone`] keeps an error).

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use qmq_core::client::{ClientError, SendReceipt, SendResult as CoreSendResult};

use crate::client::Client;
use crate::error::{Error, from_client};
use crate::guard::{
    FfiResult, Out, StrOut, UserData, handle, handle_mut, refuse_on_library_thread, run_ffi_safe,
};
use crate::message::Message;

/// What a successful send reports; borrowed by the send callback. Opaque to C.
pub struct SendResult {
    receipt: SendReceipt,
}

/// The completion callback of [`qmq_producer_send`]: exactly one of `result` and `error` is
/// non-`NULL`, and both are borrowed (valid only during the call).
pub type SendCallback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, result: *const SendResult, error: *const Error),
>;

/// Calls a host's send callback once, whatever happens while computing the outcome.
pub(crate) struct Completion {
    callback: unsafe extern "C" fn(*mut c_void, *const SendResult, *const Error),
    user_data: UserData,
}

impl Completion {
    pub(crate) fn new(
        callback: unsafe extern "C" fn(*mut c_void, *const SendResult, *const Error),
        user_data: UserData,
    ) -> Self {
        Self {
            callback,
            user_data,
        }
    }

    /// Computes the outcome (a panic becomes `QMQ_ERROR_CODE_PANIC`) and calls the host.
    pub(crate) fn complete(self, outcome: impl FnOnce() -> CoreSendResult) {
        let outcome = catch_unwind(AssertUnwindSafe(|| match outcome() {
            Ok(receipt) => Ok(SendResult { receipt }),
            Err(e) => Err(from_client(&e)),
        }))
        .unwrap_or_else(|payload| Err(Error::panic(payload.as_ref())));
        let user_data = self.user_data.0;
        match &outcome {
            // SAFETY: the host registered this callback for this user data; both pointers are
            // valid for the duration of the call, as documented.
            Ok(result) => unsafe { (self.callback)(user_data, result, std::ptr::null()) },
            // SAFETY: as above.
            Err(error) => unsafe { (self.callback)(user_data, std::ptr::null(), error) },
        }
    }
}

/// Sends `msg`. On success (`NULL`) the message's content moves into the producer — the handle
/// is spent but must still be freed with `qmq_message_free` — and `callback(user_data, …)` is
/// called exactly once when the outcome is known (see the module rules: library thread, must
/// not block, borrowed arguments). A `NULL` callback means fire-and-forget.
///
/// On error the callback is never called. For `QMQ_ERROR_CODE_QUEUE_FULL` (too many messages
/// pending) the message is normally left intact so it can be sent again later; any other
/// error leaves it spent.
///
/// # Errors
/// `QMQ_ERROR_CODE_QUEUE_FULL` (retriable), `QMQ_ERROR_CODE_CLOSED`,
/// `QMQ_ERROR_CODE_INVALID_MESSAGE`, argument errors (a spent message included).
///
/// # Safety
/// `client` and `msg` are `NULL` or live; `msg` is not used by another thread meanwhile;
/// `user_data` is valid for use by `callback` on another thread until the callback returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_producer_send(
    client: *const Client,
    msg: *mut Message,
    user_data: *mut c_void,
    callback: SendCallback,
) -> *mut Error {
    run_ffi_safe(|| {
        let on_done: qmq_core::client::SendCallback = match callback {
            Some(cb) => {
                let completion = Completion::new(cb, UserData(user_data));
                Box::new(move |result| completion.complete(|| result))
            }
            None => Box::new(|_| {}),
        };
        // SAFETY: forwarded from this function's contract.
        unsafe { send_with(client, msg, on_done) }
    })
}

/// The body of every send export: checks the handles, refuses a full queue before taking the
/// message's content (so the caller can retry with the same handle), then queues it with
/// `on_done` as its exactly-once completion.
///
/// # Safety
/// `client` and `msg` are `NULL` or live; `msg` is not used by another thread meanwhile.
pub(crate) unsafe fn send_with(
    client: *const Client,
    msg: *mut Message,
    on_done: qmq_core::client::SendCallback,
) -> FfiResult {
    // SAFETY: NULL or live by the caller's contract.
    let client = unsafe { handle(client, "client") }?;
    // SAFETY: NULL or live and unaliased by the caller's contract.
    let msg = unsafe { handle_mut(msg, "msg") }?;
    let core = client.live()?;
    let producer = core.producer();
    let capacity = core.config().producer.queue_capacity;
    if producer.pending() >= capacity {
        return Err(ClientError::QueueFull { capacity }.into());
    }
    let message = msg.take()?;
    producer.send_with_callback(message, on_done)?;
    Ok(())
}

/// Waits until every message accepted so far has completed (its callback has returned), or
/// `timeout_ms` passed. Blocks the calling thread.
///
/// # Errors
/// `QMQ_ERROR_CODE_TIMEOUT` at the deadline, `QMQ_ERROR_CODE_CLOSED` for a closed client,
/// `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` from a library thread.
///
/// # Safety
/// `client` is `NULL` or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_producer_flush(client: *const Client, timeout_ms: u64) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let client = unsafe { handle(client, "client") }?;
        refuse_on_library_thread("qmq_producer_flush")?;
        client
            .live()?
            .producer()
            .flush_blocking(Duration::from_millis(timeout_ms))?;
        Ok(())
    })
}

/// The id of the message sent, borrowed from the result.
///
/// # Safety
/// `result` is `NULL` or the result handed to the running callback; the outs are writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_send_result_message_id(
    result: *const SendResult,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let result = unsafe { handle(result, "result") }?;
        out.set(&result.receipt.message_id);
        Ok(())
    })
}

/// The broker (or delay-server) group that stored the message, borrowed from the result.
///
/// # Safety
/// As [`qmq_send_result_message_id`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_send_result_broker_group(
    result: *const SendResult,
    out_ptr: *mut *const c_char,
    out_len: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = StrOut::new(out_ptr, out_len)?;
        // SAFETY: NULL or live by the caller's contract.
        let result = unsafe { handle(result, "result") }?;
        out.set(&result.receipt.broker_group);
        Ok(())
    })
}

/// How many attempts the send took (1 = first try), in `*out_attempts`.
///
/// # Safety
/// `result` is `NULL` or the result handed to the running callback; `out_attempts` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_send_result_attempts(
    result: *const SendResult,
    out_attempts: *mut u32,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out_attempts, "out_attempts")?;
        // SAFETY: NULL or live by the caller's contract.
        let result = unsafe { handle(result, "result") }?;
        out.write(result.receipt.attempts);
        Ok(())
    })
}
