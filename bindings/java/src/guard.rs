//! The panic guard every export runs in, and the tagged handles Java holds as `jlong`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use jni::JNIEnv;
use jni::objects::{JObject, JString};
use jni::sys::jlong;

use crate::errors::{self, BridgeError};

/// Result of the bridge's own functions.
pub(crate) type Result<T> = std::result::Result<T, BridgeError>;

/// Runs an export's body: an error or a panic becomes a pending Java exception and the
/// export returns `T::default()` (0, false, null), which Java never sees because the
/// exception is thrown on return.
pub(crate) fn run<'l, T: Default>(
    env: &mut JNIEnv<'l>,
    body: impl FnOnce(&mut JNIEnv<'l>) -> Result<T>,
) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| body(env)));
    let error = match outcome {
        Ok(Ok(v)) => return v,
        Ok(Err(e)) => e,
        Err(panic) => BridgeError::Panic(panic_message(panic.as_ref())),
    };
    errors::throw(env, &error);
    T::default()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// A Java string argument that must not be null.
pub(crate) fn string(env: &mut JNIEnv<'_>, s: &JString<'_>, what: &str) -> Result<String> {
    if s.is_null() {
        return Err(BridgeError::InvalidArgument(format!(
            "{what} must not be null"
        )));
    }
    Ok(env.get_string(s)?.into())
}

/// A Java string argument that may be null.
pub(crate) fn opt_string(env: &mut JNIEnv<'_>, s: &JString<'_>) -> Result<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    Ok(Some(env.get_string(s)?.into()))
}

/// A `String[]` argument (null = empty); null elements are refused.
pub(crate) fn string_array(
    env: &mut JNIEnv<'_>,
    array: &jni::objects::JObjectArray<'_>,
    what: &str,
) -> Result<Vec<String>> {
    if array.is_null() {
        return Ok(Vec::new());
    }
    let n = env.get_array_length(array)?;
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for i in 0..n {
        let item = JString::from(env.get_object_array_element(array, i)?);
        let value = string(env, &item, what)?;
        env.delete_local_ref(JObject::from(item))?;
        out.push(value);
    }
    Ok(out)
}

/// Tells handle kinds apart, so that a handle passed to the wrong export is refused instead
/// of misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Client = 0x514d_0001,
    Pull = 0x514d_0002,
    Subscription = 0x514d_0003,
    Outbox = 0x514d_0004,
}

/// What a `jlong` handle points to. `repr(C)` keeps `kind` first for every `T`, so it can be
/// read before the type is trusted.
#[repr(C)]
pub(crate) struct Handle<T> {
    kind: Kind,
    closed: AtomicBool,
    what: &'static str,
    value: T,
}

impl<T> Handle<T> {
    /// Moves `value` to the heap; Java owns the returned pointer until [`Handle::free`].
    pub(crate) fn into_raw(kind: Kind, what: &'static str, value: T) -> jlong {
        Box::into_raw(Box::new(Handle {
            kind,
            closed: AtomicBool::new(false),
            what,
            value,
        })) as jlong
    }

    /// The handle behind `ptr`, refused once closed.
    ///
    /// # Safety
    /// `ptr` is 0 or came from [`Handle::into_raw`] and was not freed; Java's `NativeHandle`
    /// guarantees this by freeing only under its write lock while every call holds the read
    /// lock.
    pub(crate) unsafe fn open<'a>(ptr: jlong, kind: Kind, what: &'static str) -> Result<&'a T> {
        // SAFETY: forwarded from the caller.
        let h = unsafe { Self::any(ptr, kind, what)? };
        if h.closed.load(Ordering::Acquire) {
            return Err(BridgeError::Closed(h.what));
        }
        Ok(&h.value)
    }

    /// The handle behind `ptr`, closed or not.
    ///
    /// # Safety
    /// As [`Handle::open`].
    pub(crate) unsafe fn any<'a>(ptr: jlong, kind: Kind, what: &'static str) -> Result<&'a Self> {
        if ptr == 0 {
            return Err(BridgeError::Closed(what));
        }
        // SAFETY: non-null and, per the contract, a live `Handle<_>`; `kind` is the first
        // field of every `Handle<_>` (repr(C)), so reading it is sound whatever `T` was.
        let kind_seen = unsafe { *(ptr as *const Kind) };
        if kind_seen != kind {
            return Err(BridgeError::InvalidArgument(format!("not a {what} handle")));
        }
        // SAFETY: the kind matches, so the pointee is a `Handle<T>`.
        Ok(unsafe { &*(ptr as *const Self) })
    }

    /// Marks the handle closed (later calls get `ClosedException`); returns whether it was
    /// open.
    pub(crate) fn close(&self) -> bool {
        !self.closed.swap(true, Ordering::AcqRel)
    }

    /// The value, closed or not.
    pub(crate) fn value(&self) -> &T {
        &self.value
    }

    /// Drops the handle. 0 is ignored.
    ///
    /// # Safety
    /// As [`Handle::open`], and no call may use `ptr` any more (Java holds the write lock).
    pub(crate) unsafe fn free(ptr: jlong, kind: Kind, what: &'static str) -> Result<()> {
        if ptr == 0 {
            return Ok(());
        }
        // SAFETY: forwarded from the caller; checks the kind before taking ownership.
        unsafe { Self::any(ptr, kind, what)? };
        // SAFETY: came from `Box::into_raw` in `into_raw`, freed exactly once (Java zeroes its
        // copy under the write lock before calling this).
        drop(unsafe { Box::from_raw(ptr as *mut Self) });
        Ok(())
    }
}
