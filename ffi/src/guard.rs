//! The boundary guard and argument conversions every export goes through.
//!
//! * [`run_ffi_safe`] runs an export's body inside `catch_unwind`: `Ok` becomes `NULL`, an
//!   error or a panic becomes an owned error object. No panic ever crosses into C.
//! * [`guard_or`] does the same for exports without an error result (accessors of error
//!   objects, `_free`s), returning a fallback value on panic.
//! * [`str_arg`], [`handle`], [`Out`] check `NULL`s, lengths and UTF-8 before anything is done.
//! * [`refuse_on_library_thread`] keeps blocking exports off runtime threads (callbacks and
//!   handlers run there), where blocking would stall or deadlock the runtime.

use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use crate::error::{Error, ErrorCode};

/// What export bodies return.
pub(crate) type FfiResult<T = ()> = Result<T, Error>;

/// Runs `body`, turning its error or panic into an owned error object (`NULL` = success).
pub(crate) fn run_ffi_safe(body: impl FnOnce() -> FfiResult) -> *mut Error {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(e)) => e.into_raw(),
        Err(payload) => Error::panic(payload.as_ref()).into_raw(),
    }
}

/// Runs `body`, returning `fallback` if it panics.
pub(crate) fn guard_or<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A borrowed UTF-8 string argument given as pointer + length. `NULL` with length 0 is the
/// empty string.
///
/// # Safety
/// `ptr` is `NULL` or points to `len` readable bytes that stay valid and unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, len: usize, what: &str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return if len == 0 {
            Ok("")
        } else {
            Err(Error::invalid(format!("{what} is NULL with length {len}")))
        };
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!("{what} length {len} is too large")));
    }
    // SAFETY: non-NULL, length within isize::MAX, readable for `len` bytes by the caller's
    // contract.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            ErrorCode::InvalidUtf8,
            format!(
                "{what} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// A shared reference to a live handle.
///
/// # Safety
/// `ptr` is `NULL` or a live handle of type `T` that outlives `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> FfiResult<&'a T> {
    // SAFETY: NULL or live by the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null(what))
}

/// A mutable reference to a live handle.
///
/// # Safety
/// `ptr` is `NULL` or a live handle of type `T` that outlives `'a` and is not used elsewhere
/// meanwhile.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> FfiResult<&'a mut T> {
    // SAFETY: NULL or live and unaliased by the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::null(what))
}

/// Moves `value` to the heap and hands it to C.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back and drops a handle made by [`into_handle`]; `NULL` is ignored.
///
/// # Safety
/// `ptr` is `NULL` or came from [`into_handle::<T>`] and is not used after this.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by `Box::into_raw` in `into_handle`, freed once (caller's contract).
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A checked, non-NULL out-parameter.
pub(crate) struct Out<T>(NonNull<T>);

impl<T> Clone for Out<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Out<T> {}

impl<T> Out<T> {
    /// Checks `ptr` (before any work is done, so that nothing is lost on a bad pointer).
    pub(crate) fn new(ptr: *mut T, what: &str) -> FfiResult<Self> {
        NonNull::new(ptr).map(Self).ok_or_else(|| Error::null(what))
    }

    /// Writes the value (without dropping what was there: C memory).
    pub(crate) fn write(self, value: T) {
        // SAFETY: non-NULL and writable by the caller's contract for the export.
        unsafe { self.0.as_ptr().write(value) };
    }
}

/// `items[index]`, or an invalid-argument error naming `what` and the valid range.
pub(crate) fn item_at<'a, T>(items: &'a [T], index: usize, what: &str) -> FfiResult<&'a T> {
    items.get(index).ok_or_else(|| {
        Error::invalid(format!(
            "{what} index {index} out of range (0..{})",
            items.len()
        ))
    })
}

/// A borrowed string result: pointer and length out-parameters.
pub(crate) struct StrOut {
    ptr: Out<*const c_char>,
    len: Out<usize>,
}

impl StrOut {
    /// Checks both out-parameters.
    pub(crate) fn new(ptr: *mut *const c_char, len: *mut usize) -> FfiResult<Self> {
        Ok(Self {
            ptr: Out::new(ptr, "out_ptr")?,
            len: Out::new(len, "out_len")?,
        })
    }

    /// Points the caller at `s` (borrowed from the handle).
    pub(crate) fn set(self, s: &str) {
        self.ptr.write(s.as_ptr().cast());
        self.len.write(s.len());
    }

    /// Reports an absent value: `NULL` and length 0.
    pub(crate) fn set_absent(self) {
        self.ptr.write(std::ptr::null());
        self.len.write(0);
    }

    /// `set` or `set_absent`.
    pub(crate) fn set_opt(self, s: Option<&str>) {
        match s {
            Some(s) => self.set(s),
            None => self.set_absent(),
        }
    }
}

/// Refuses to run a blocking export on a tokio thread (the library's callbacks and handlers run
/// on one): blocking there would stall or deadlock the runtime.
pub(crate) fn refuse_on_library_thread(op: &str) -> FfiResult {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            ErrorCode::BlockingInCallback,
            format!(
                "{op} blocks and must not be called from a qmq callback or handler thread (or any async runtime)"
            ),
        ));
    }
    Ok(())
}

/// A `void *user_data` that may travel to the thread running its callback; the library never
/// dereferences it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut std::ffi::c_void);

// SAFETY: the pointer is opaque to Rust and only handed back to the host's callback; the host
// promises (in every export's docs) that its user data may be used from the callback's thread.
unsafe impl Send for UserData {}
// SAFETY: as above; Rust never reads through it.
unsafe impl Sync for UserData {}
