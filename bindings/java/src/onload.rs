//! `JNI_OnLoad`: caches the bridge's exception classes.
//!
//! Classes must be looked up here, on the thread loading the library: a native thread sees
//! only the system class loader, which may not know the jar's classes (an application server,
//! a plugin loader). Everything is kept as global references for the
//! life of the process; the library is never unloaded.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use jni::objects::{GlobalRef, JClass};
use jni::sys::{JNI_ERR, JNI_VERSION_1_8, jint};
use jni::{JNIEnv, JavaVM};

/// The exception classes, in the order of [`ExceptionClass`].
const EXCEPTIONS: [&str; 5] = [
    "qunar/tc/qmq/QmqException",
    "qunar/tc/qmq/ClosedException",
    "qunar/tc/qmq/QueueFullException",
    "qunar/tc/qmq/InvalidArgumentException",
    "qunar/tc/qmq/SendException",
];

/// Constructor of every exception class: `(message, kind, retriable)`.
pub(crate) const EXCEPTION_CTOR: &str = "(Ljava/lang/String;Ljava/lang/String;Z)V";

const NATIVE_CLASS: &str = "qunar/tc/qmq/internal/Native";

/// Which exception class an error maps to (index into [`EXCEPTIONS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExceptionClass {
    Qmq = 0,
    Closed = 1,
    QueueFull = 2,
    InvalidArgument = 3,
    Send = 4,
}

/// What `JNI_OnLoad` looked up.
pub(crate) struct Cache {
    exception_classes: Vec<GlobalRef>,
}

impl Cache {
    /// The Java class of `class`.
    pub(crate) fn exception(&self, class: ExceptionClass) -> Option<&GlobalRef> {
        self.exception_classes.get(class as usize)
    }
}

static CACHE: OnceLock<Cache> = OnceLock::new();

/// The cache, once `JNI_OnLoad` has run (always, for a library loaded by `System.load`).
pub(crate) fn cache() -> Option<&'static Cache> {
    CACHE.get()
}

fn build(vm: &JavaVM) -> jni::errors::Result<Cache> {
    let mut env = vm.get_env()?;
    // The jar's entry class must be there (a mismatched jar fails at load).
    env.find_class(NATIVE_CLASS)?;
    let mut exception_classes = Vec::with_capacity(EXCEPTIONS.len());
    for name in EXCEPTIONS {
        let class: JClass<'_> = env.find_class(name)?;
        // Checked here so that a mismatched jar fails at load, not on the first error.
        env.get_method_id(&class, "<init>", EXCEPTION_CTOR)?;
        exception_classes.push(env.new_global_ref(&class)?);
    }
    Ok(Cache { exception_classes })
}

/// Called by the JVM when `System.load` loads this library.
#[unsafe(no_mangle)]
pub extern "system" fn JNI_OnLoad(vm: JavaVM, _reserved: *mut c_void) -> jint {
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        // A second load of the same file in another class loader is refused by the JVM
        // itself; a second `JNI_OnLoad` in this process keeps the first cache.
        if CACHE.get().is_some() {
            return true;
        }
        match build(&vm) {
            Ok(cache) => {
                let _ = CACHE.set(cache);
                true
            }
            Err(_) => {
                if let Ok(mut env) = vm.get_env() {
                    clear_pending(&mut env);
                }
                false
            }
        }
    }));
    match loaded {
        Ok(true) => JNI_VERSION_1_8,
        _ => JNI_ERR,
    }
}

/// Prints and clears a pending Java exception (used where no Java caller can receive it).
pub(crate) fn clear_pending(env: &mut JNIEnv<'_>) {
    if env.exception_check().unwrap_or(false) {
        let _ = env.exception_describe();
        let _ = env.exception_clear();
    }
}
