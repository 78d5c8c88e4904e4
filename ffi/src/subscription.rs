//! `QmqSubscription`: the listener API — a host handler runs for every message.
//!
//! Invariants:
//! * the handler runs on the core runtime's **blocking pool**, never on an async worker, at
//!   most `concurrency` calls at once; it may block (database calls, host-language work);
//! * its return value decides the ack: 0 acks, anything else sends the message to the retry
//!   subject (dead-letter after the last try);
//! * the `QmqDelivered *` it gets is borrowed: valid only during the call, acked by the return
//!   value (not with `qmq_delivered_ack`), never freed by the host;
//! * `free_user_data(user_data)` runs exactly once, on some library thread, after the last
//!   handler call has returned — once the subscription has stopped or been freed and its
//!   in-flight calls are done — and never if subscribing failed (the caller still owns
//!   `user_data` then). It must not block;
//! * blocking qmq functions fail inside the handler with `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK`.

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use qmq_core::client::Client as CoreClient;
use qmq_core::client::consumer::{
    Handler as CoreHandler, HandlerError, Subscription as CoreSubscription,
};
use qmq_core::protocol::Message as CoreMessage;

use crate::client::Client;
use crate::delivered::Delivered;
use crate::error::{Error, ErrorCode};
use crate::guard::{
    Out, UserData, free_handle, guard_or, handle, into_handle, refuse_on_library_thread,
    run_ffi_safe, str_arg,
};
use crate::options::{ConsumeOptions, to_core};

/// A subscription handler: returns 0 to ack the message, non-zero to retry it. `message` is
/// borrowed for the duration of the call.
pub type MessageHandler =
    Option<unsafe extern "C" fn(user_data: *mut c_void, message: *const Delivered) -> i32>;

/// Releases a callback's user data; called exactly once.
pub type FreeUserData = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A running listener. Opaque to C.
pub struct Subscription {
    subscription: CoreSubscription,
    _client: CoreClient,
}

/// The host's handler and user data; releases the user data when the last reference goes.
struct HostHandler {
    handler: unsafe extern "C" fn(*mut c_void, *const Delivered) -> i32,
    user_data: UserData,
    free_user_data: FreeUserData,
    armed: AtomicBool,
}

impl HostHandler {
    fn call(&self, message: &CoreMessage) -> Result<(), HandlerError> {
        let view = Delivered::borrowed(message);
        // SAFETY: the host registered this handler with this user data; `view` outlives the
        // call, and `message` outlives `view`.
        let rc = unsafe { (self.handler)(self.user_data.0, &view) };
        if rc == 0 {
            Ok(())
        } else {
            Err(HandlerError::new(format!("handler returned {rc}")))
        }
    }
}

impl Drop for HostHandler {
    fn drop(&mut self) {
        if let (Some(free), true) = (self.free_user_data, self.armed.load(Ordering::Acquire)) {
            // SAFETY: the host's release function for its own user data; called once, as the
            // last reference to the handler goes away.
            unsafe { free(self.user_data.0) };
        }
    }
}

/// Subscribes `handler` to `subject` as consumer group `group` (may be empty only for
/// broadcast) and stores the subscription in `*out` (owned: stop it with
/// [`qmq_subscription_stop`], free it with [`qmq_subscription_free`]). See the module rules for
/// the handler's thread, return value and `free_user_data`. `options` may be `NULL`; it is
/// copied. A new group receives messages sent after it registered (within about a second).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_MESSAGE` for a bad subject or group, `QMQ_ERROR_CODE_CONFIG` for
/// bad options, `QMQ_ERROR_CODE_CLOSED` for a closed client, argument errors (a `NULL`
/// handler included). `free_user_data` is not called on error.
///
/// # Safety
/// `client` is `NULL` or live; the strings point to their lengths; `options` is `NULL` or
/// readable; `user_data` may be used by `handler` and `free_user_data` from library threads
/// until `free_user_data` runs; `out` is writable.
#[unsafe(no_mangle)]
#[allow(
    clippy::too_many_arguments,
    reason = "the C signature of the listener API"
)]
pub unsafe extern "C" fn qmq_consumer_subscribe(
    client: *const Client,
    subject: *const c_char,
    subject_len: usize,
    group: *const c_char,
    group_len: usize,
    options: *const ConsumeOptions,
    handler: MessageHandler,
    user_data: *mut c_void,
    free_user_data: FreeUserData,
    out: *mut *mut Subscription,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out, "out")?;
        let handler = handler.ok_or_else(|| Error::null("handler"))?;
        // SAFETY: NULL or live by the caller's contract.
        let client = unsafe { handle(client, "client") }?;
        // SAFETY: pointer + length by the caller's contract.
        let subject = unsafe { str_arg(subject, subject_len, "subject") }?;
        // SAFETY: as above.
        let group = unsafe { str_arg(group, group_len, "group") }?;
        // SAFETY: NULL or readable by the caller's contract.
        let options = unsafe { to_core(options) }?;
        let consumer = client.consumer()?;
        let host = Arc::new(HostHandler {
            handler,
            user_data: UserData(user_data),
            free_user_data,
            armed: AtomicBool::new(true),
        });
        let in_core = host.clone();
        let core_handler: CoreHandler = Arc::new(move |m: &CoreMessage| in_core.call(m));
        match consumer.subscribe(subject, group, options, core_handler) {
            Ok(subscription) => {
                out.write(into_handle(Subscription {
                    subscription,
                    _client: client.core().clone(),
                }));
                Ok(())
            }
            Err(e) => {
                // The core has dropped its reference: ours is the last, and the caller keeps
                // its user data.
                host.armed.store(false, Ordering::Release);
                Err(e.into())
            }
        }
    })
}

/// Stops the subscription gracefully: no more pulls, running handler calls finish, their acks
/// are sent; waits up to `timeout_ms` for all that. Blocks. Idempotent.
///
/// # Errors
/// `QMQ_ERROR_CODE_TIMEOUT` if it had not stopped by the deadline (it keeps stopping in the
/// background), `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` from a library thread (a handler
/// included: stopping from a handler would wait for itself).
///
/// # Safety
/// `sub` is `NULL` or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_subscription_stop(
    sub: *const Subscription,
    timeout_ms: u64,
) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let sub = unsafe { handle(sub, "sub") }?;
        refuse_on_library_thread("qmq_subscription_stop")?;
        sub.subscription.stop();
        let deadline = Instant::now() + Duration::from_millis(timeout_ms);
        while !sub.subscription.is_stopped() {
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorCode::Timeout,
                    format!("the subscription did not stop within {timeout_ms} ms"),
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    })
}

/// Frees a subscription (takes ownership), stopping it without waiting; handler calls already
/// running may still finish afterwards — `free_user_data` tells when the last one is done.
/// `NULL` is ignored. Never blocks.
///
/// # Safety
/// `sub` is `NULL` or live, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_subscription_free(sub: *mut Subscription) {
    guard_or((), || {
        // SAFETY: NULL or made by `qmq_consumer_subscribe`, freed once (caller's contract).
        unsafe { free_handle(sub) }
    });
}
