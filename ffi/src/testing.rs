//! `qmq_testing_*`: exports that force the failure paths every host binding must handle
//! (feature `testing`; the header guards them with `QMQ_TESTING`).

use std::ffi::c_void;

use crate::error::{Error, ErrorCode};
use crate::guard::{UserData, run_ffi_safe};
use crate::producer::{Completion, SendCallback};

/// Panics inside the library; the guard returns a `QMQ_ERROR_CODE_PANIC` error object.
#[unsafe(no_mangle)]
pub extern "C" fn qmq_testing_panic() -> *mut Error {
    run_ffi_safe(|| panic!("qmq_testing_panic"))
}

/// Returns an error object with `code` (an unknown code gives `QMQ_ERROR_CODE_INTERNAL`),
/// retriable if `retriable`.
#[unsafe(no_mangle)]
pub extern "C" fn qmq_testing_error(code: i32, retriable: bool) -> *mut Error {
    run_ffi_safe(|| {
        let code = ErrorCode::from_i32(code).unwrap_or(ErrorCode::Internal);
        Err(Error::with_retriable(
            code,
            format!("qmq_testing_error({})", code as i32),
            retriable,
        ))
    })
}

/// Completes a send-style callback from a new library thread after a panic in the library's
/// completion path: the callback is called exactly once with a `QMQ_ERROR_CODE_PANIC` error.
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for a `NULL` callback (then it is never called).
///
/// # Safety
/// `user_data` may be used by `callback` on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_testing_send_panic(
    user_data: *mut c_void,
    callback: SendCallback,
) -> *mut Error {
    run_ffi_safe(|| {
        let callback = callback.ok_or_else(|| Error::null("callback"))?;
        let completion = Completion::new(callback, UserData(user_data));
        std::thread::Builder::new()
            .name("qmq-testing".into())
            .spawn(move || completion.complete(|| panic!("qmq_testing_send_panic")))
            .map_err(|e| Error::new(ErrorCode::Runtime, format!("cannot start a thread: {e}")))?;
        Ok(())
    })
}
