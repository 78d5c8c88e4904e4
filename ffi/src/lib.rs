//! `qmq-ffi`: the C ABI of the QMQ client core. The header `include/qmq.h` is generated from
//! this crate by cbindgen (`build.rs`) and checked in (`ci/check-header.sh` fails when stale).
//!
//! Files: `guard.rs` (panic guard, argument checks), `error.rs` (error objects and codes),
//! `client.rs`, `message.rs`, `producer.rs` (send, flush, send results), `completions.rs`
//! (completion queues: send outcomes pulled in batches instead of callbacks), `options.rs`,
//! `delivered.rs`, `pull.rs`, `subscription.rs`, `log.rs`, `testing.rs` (feature `testing`).
//!
//! Rules every export follows (the header repeats them):
//! * names are `qmq_<object>_<verb>`; every handle type has a `_free` that accepts `NULL`;
//! * fallible functions return `QmqError *` — `NULL` on success, else an **owned** error
//!   object for the caller to free with `qmq_error_free`; results go to out-parameters, which
//!   are written only on success;
//! * every export runs inside a `catch_unwind` guard (a panic becomes `QMQ_ERROR_CODE_PANIC`),
//!   checks `NULL` pointers and closed handles, and validates UTF-8;
//! * strings are UTF-8 pointer + length. Inputs are borrowed for the call and copied when
//!   kept. Outputs are borrowed from the handle they come from (valid until it is changed or
//!   freed) and not NUL-terminated — except error messages, which are;
//! * whoever allocates frees: the library frees only what it allocated, through `_free`
//!   functions; callbacks receive **borrowed** objects valid only during the call;
//! * asynchronous completions and handlers run on library threads; blocking functions
//!   called there fail with `QMQ_ERROR_CODE_BLOCKING_IN_CALLBACK` instead of deadlocking;
//! * handles are thread-safe except `QmqMessage` (one owner at a time); using a handle after
//!   its `_free` is undefined behaviour, using it after a close is a `QMQ_ERROR_CODE_CLOSED`
//!   error.

#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod client;
pub mod completions;
pub mod delivered;
pub mod error;
mod guard;
pub mod log;
pub mod message;
pub mod options;
pub mod producer;
pub mod pull;
pub mod subscription;
#[cfg(feature = "testing")]
pub mod testing;

/// The ABI version of this library. Wrappers compare it with [`qmq_abi_version`] at load time
/// and refuse a mismatch. It changes whenever a signature, struct layout or code meaning
/// changes.
pub const QMQ_ABI_VERSION: u32 = 2;

/// The ABI version the library was built with (`QMQ_ABI_VERSION` of its header).
#[unsafe(no_mangle)]
pub extern "C" fn qmq_abi_version() -> u32 {
    QMQ_ABI_VERSION
}
