//! SendCompletion queues: send completions collected for the host to pull in batches, instead of
//! one callback per message on a library thread.
//!
//! A host whose runtime is costly to enter from a foreign thread (Mono or .NET, where each
//! native-to-managed call pays a thread-state transition) sends with
//! [`qmq_producer_send_queued`] and a `token` of its own, and a thread it owns calls
//! [`qmq_completion_queue_next`], which blocks until completions are ready and copies a batch of
//! [`SendCompletion`]s out in one call. No host code runs on a library thread.
//!
//! Invariants:
//! * a send accepted by `qmq_producer_send_queued` puts exactly one completion with its token
//!   into the queue (also when the client closes: `QMQ_ERROR_CODE_CLOSED`); a refused send puts
//!   none;
//! * the strings and error a `QmqSendCompletion` points to are owned by the queue and stay valid
//!   until the next `qmq_completion_queue_next` on that queue or its `_free` (copy what you
//!   keep; `qmq_error_clone` keeps an error);
//! * the queue lives as long as any send still holds it: freeing the handle with sends in flight
//!   is safe, their completions are dropped.

use std::ffi::c_char;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmq_core::client::{SendReceipt, SendResult as CoreSendResult};

use crate::client::Client;
use crate::error::{Error, from_client};
use crate::guard::{Out, free_handle, handle, into_handle, refuse_on_library_thread, run_ffi_safe};
use crate::message::Message;
use crate::producer::send_with;

/// A queue of finished sends. Opaque to C; thread-safe.
pub struct CompletionQueue {
    tx: Arc<Sender<Finished>>,
    /// The receiver and the batch the last `next` handed out (kept alive for its pointers).
    rx: Mutex<Pulled>,
}

struct Pulled {
    rx: Receiver<Finished>,
    batch: Vec<Finished>,
}

/// One finished send.
struct Finished {
    token: u64,
    outcome: Result<SendReceipt, Error>,
}

/// One send's outcome, as [`qmq_completion_queue_next`] reports it. `error` is `NULL` for a
/// success; then `message_id` and `broker_group` are set (empty for a failure). Everything
/// pointed to is borrowed from the queue until its next `qmq_completion_queue_next`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SendCompletion {
    /// The token given to `qmq_producer_send_queued`.
    pub token: u64,
    /// Why the send failed, or `NULL`.
    pub error: *const Error,
    /// The id of the message sent (UTF-8, not NUL-terminated).
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
    /// The group that stored the message (UTF-8, not NUL-terminated).
    pub broker_group: *const c_char,
    /// Its length in bytes.
    pub broker_group_len: usize,
}

impl Finished {
    fn view(&self) -> SendCompletion {
        let (error, id, group) = match &self.outcome {
            Ok(r) => (
                std::ptr::null(),
                r.message_id.as_str(),
                r.broker_group.as_str(),
            ),
            Err(e) => (e as *const Error, "", ""),
        };
        SendCompletion {
            token: self.token,
            error,
            message_id: id.as_ptr().cast(),
            message_id_len: id.len(),
            broker_group: group.as_ptr().cast(),
            broker_group_len: group.len(),
        }
    }
}

/// Creates a completion queue in `*out` (free with [`qmq_completion_queue_free`]).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for a `NULL` `out`.
///
/// # Safety
/// `out` is `NULL` or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_completion_queue_new(out: *mut *mut CompletionQueue) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out, "out")?;
        let (tx, rx) = channel();
        out.write(into_handle(CompletionQueue {
            tx: Arc::new(tx),
            rx: Mutex::new(Pulled {
                rx,
                batch: Vec::new(),
            }),
        }));
        Ok(())
    })
}

/// Frees a completion queue (`NULL` is ignored). Completions of sends still in flight are
/// dropped when they finish.
///
/// # Safety
/// `queue` is `NULL` or a live queue no other thread uses during or after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_completion_queue_free(queue: *mut CompletionQueue) {
    crate::guard::guard_or((), || {
        // SAFETY: NULL or live and no longer used, by the caller's contract.
        unsafe { free_handle(queue) }
    });
}

/// Sends `msg` like `qmq_producer_send`, but its outcome goes into `queue` with `token`
/// instead of to a callback. On success (`NULL`) exactly one completion with `token` will be
/// queued; on error none is, and the message is handled as by `qmq_producer_send` (left intact
/// for `QMQ_ERROR_CODE_QUEUE_FULL`).
///
/// # Errors
/// As `qmq_producer_send`, and `QMQ_ERROR_CODE_INVALID_ARGUMENT` for a `NULL` queue.
///
/// # Safety
/// `client`, `msg` and `queue` are `NULL` or live; `msg` is not used by another thread
/// meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_producer_send_queued(
    client: *const Client,
    msg: *mut Message,
    queue: *const CompletionQueue,
    token: u64,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let queue = unsafe { handle(queue, "queue") }?;
        let tx = Arc::clone(&queue.tx);
        let on_done: qmq_core::client::SendCallback = Box::new(move |result: CoreSendResult| {
            let outcome = result.map_err(|e| from_client(&e));
            // A freed queue drops the completion, as documented.
            let _ = tx.send(Finished { token, outcome });
        });
        // SAFETY: forwarded from this function's contract.
        unsafe { send_with(client, msg, on_done) }
    })
}

/// Waits up to `timeout_ms` until at least one send finished, then writes up to `cap` of them
/// to `out[0..]` and their number to `*out_n` (0 when the wait timed out). The previous
/// batch's strings and errors are released by this call. One thread at a time pulls from a
/// queue (others wait for it).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for `NULL` arguments or `cap` 0,
/// `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` on a library thread.
///
/// # Safety
/// `queue` is `NULL` or live; `out` is `NULL` or has room for `cap` entries; `out_n` is `NULL`
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_completion_queue_next(
    queue: *const CompletionQueue,
    out: *mut SendCompletion,
    cap: usize,
    timeout_ms: u64,
    out_n: *mut usize,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let queue = unsafe { handle(queue, "queue") }?;
        let out_n = Out::new(out_n, "out_n")?;
        if out.is_null() {
            return Err(Error::null("out"));
        }
        if cap == 0 {
            return Err(Error::invalid("cap must be at least 1"));
        }
        refuse_on_library_thread("qmq_completion_queue_next")?;
        let mut pulled = queue.rx.lock().unwrap_or_else(|e| e.into_inner());
        let Pulled { rx, batch } = &mut *pulled;
        batch.clear();
        match rx.recv_timeout(Duration::from_millis(timeout_ms)) {
            Ok(first) => batch.push(first),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                out_n.write(0);
                return Ok(());
            }
        }
        while batch.len() < cap {
            match rx.try_recv() {
                Ok(f) => batch.push(f),
                Err(_) => break,
            }
        }
        for (i, finished) in batch.iter().enumerate() {
            // SAFETY: the caller promised room for `cap` entries and i < batch.len() <= cap.
            unsafe { out.add(i).write(finished.view()) };
        }
        out_n.write(batch.len());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_views_as_its_error_and_empty_strings() {
        let f = Finished {
            token: 7,
            outcome: Err(Error::closed("the client")),
        };
        let v = f.view();
        assert_eq!(v.token, 7);
        assert!(!v.error.is_null());
        assert_eq!(v.message_id_len, 0);
        assert_eq!(v.broker_group_len, 0);
    }

    #[test]
    fn next_on_an_empty_queue_times_out_with_zero() {
        let mut q = std::ptr::null_mut();
        // SAFETY: valid out pointers for the duration of the calls.
        unsafe {
            assert!(qmq_completion_queue_new(&mut q).is_null());
            let mut out = [SendCompletion {
                token: 0,
                error: std::ptr::null(),
                message_id: std::ptr::null(),
                message_id_len: 0,
                broker_group: std::ptr::null(),
                broker_group_len: 0,
            }; 4];
            let mut n = 99;
            assert!(qmq_completion_queue_next(q, out.as_mut_ptr(), 4, 10, &mut n).is_null());
            assert_eq!(n, 0);
            let e = qmq_completion_queue_next(q, out.as_mut_ptr(), 0, 10, &mut n);
            assert!(!e.is_null());
            crate::error::qmq_error_free(e);
            let e = qmq_completion_queue_next(std::ptr::null(), out.as_mut_ptr(), 4, 10, &mut n);
            assert!(!e.is_null());
            crate::error::qmq_error_free(e);
            qmq_completion_queue_free(q);
        }
    }
}
