//! `QmqClient`: the first handle a host creates. It owns the core [`Client`] (its runtime,
//! meta client, connections and producer) and lazily the one consumer shared by every pull
//! consumer and subscription made from it.
//!
//! Invariants:
//! * the handle is thread-safe: every function taking a `const QmqClient *` may be called from
//!   any thread concurrently;
//! * after [`qmq_client_close`] every operation on the client, and on the consumers made from
//!   it, fails with `QMQ_ERROR_CODE_CLOSED` instead of crashing;
//! * pull consumers and subscriptions hold their own reference to the core client, so freeing
//!   the client handle first is allowed: the runtime lives until the last of them is freed;
//! * [`qmq_client_free`] never blocks and never calls host code.

use std::ffi::c_char;
use std::sync::Mutex;
use std::time::Duration;

use qmq_core::client::consumer::Consumer;
use qmq_core::client::{Client as CoreClient, ClientConfig};

use crate::error::Error;
use crate::guard::{
    FfiResult, Out, free_handle, handle, into_handle, refuse_on_library_thread, run_ffi_safe,
    str_arg,
};

/// A connection to one QMQ cluster. Opaque to C.
pub struct Client {
    client: CoreClient,
    consumer: Mutex<Option<Consumer>>,
}

impl Client {
    /// The core client, unless it was closed.
    pub(crate) fn live(&self) -> FfiResult<&CoreClient> {
        if self.client.is_closed() {
            return Err(Error::closed("the client"));
        }
        Ok(&self.client)
    }

    /// The consumer of this client, created on first use.
    pub(crate) fn consumer(&self) -> FfiResult<Consumer> {
        let client = self.live()?;
        let mut slot = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let consumer = client.consumer()?;
        *slot = Some(consumer.clone());
        Ok(consumer)
    }

    /// A clone of the core client (children keep its runtime alive).
    pub(crate) fn core(&self) -> &CoreClient {
        &self.client
    }
}

/// Creates a client for the cluster whose meta server answers at `meta_url`
/// (`http://host:port/meta/address`) as application `app_code`, and stores the new handle in
/// `*out` (owned by the caller: free it with [`qmq_client_free`]). Nothing is sent to the
/// server until the first message or consumer; the strings are copied.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` / `_INVALID_UTF8` for bad arguments,
/// `QMQ_ERROR_CODE_CONFIG` for a bad URL or app code, `QMQ_ERROR_CODE_RUNTIME` if threads
/// cannot start. `*out` is left untouched on error.
///
/// # Safety
/// `meta_url` / `app_code` point to `*_len` readable bytes (or are `NULL` with length 0);
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_client_new(
    meta_url: *const c_char,
    meta_url_len: usize,
    app_code: *const c_char,
    app_code_len: usize,
    out: *mut *mut Client,
) -> *mut Error {
    run_ffi_safe(|| {
        let out = Out::new(out, "out")?;
        // SAFETY: the caller guarantees the pointer/length pairs.
        let meta_url = unsafe { str_arg(meta_url, meta_url_len, "meta_url") }?;
        // SAFETY: as above.
        let app_code = unsafe { str_arg(app_code, app_code_len, "app_code") }?;
        let mut config = ClientConfig::new(app_code);
        config.meta.url = meta_url.to_owned();
        let client = CoreClient::new(config)?;
        out.write(into_handle(Client {
            client,
            consumer: Mutex::new(None),
        }));
        Ok(())
    })
}

/// Closes the client (the handle stays valid until [`qmq_client_free`]): stops accepting
/// messages, waits up to `timeout_ms` for pending sends (their callbacks run), then stops every
/// consumer and subscription of the client and the runtime. Sends still pending then complete
/// with `QMQ_ERROR_CODE_CLOSED`. Later calls succeed at once. Blocks the calling thread.
///
/// # Errors
/// `QMQ_ERROR_CODE_TIMEOUT` if messages were still pending at the deadline (the client is
/// closed anyway); `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` when called from a library callback
/// or handler thread (nothing is closed then).
///
/// # Safety
/// `client` is `NULL` or a live client handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_client_close(client: *const Client, timeout_ms: u64) -> *mut Error {
    run_ffi_safe(|| {
        // SAFETY: NULL or live by the caller's contract.
        let client = unsafe { handle(client, "client") }?;
        refuse_on_library_thread("qmq_client_close")?;
        client.client.close(Duration::from_millis(timeout_ms))?;
        Ok(())
    })
}

/// Frees the client handle (takes ownership); `NULL` is ignored. Never blocks: a client not
/// closed first is stopped in the background, and pending sends complete with
/// `QMQ_ERROR_CODE_CLOSED` on a library thread. Consumers and subscriptions made from the
/// client stay valid and must be freed on their own.
///
/// # Safety
/// `client` is `NULL` or a live client handle, not used after this call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_client_free(client: *mut Client) {
    crate::guard::guard_or((), || {
        // SAFETY: NULL or made by `qmq_client_new`, freed once (caller's contract).
        unsafe { free_handle(client) }
    });
}
