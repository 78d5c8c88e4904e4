//! The native library `qmq_java` of the Java package (`java/`): a JNI bridge over `qmq-core`.
//!
//! What it owns: turning Java arguments into core calls and core results into Java values,
//! the mapping of core errors to the Java exception hierarchy (`errors`), and the threads that
//! carry core completions back into the JVM (`callbacks`, `listener`). Behaviour (batching,
//! retries, acks, filters) lives in `qmq-core`; the QMQ-style Java API lives in `java/`.
//!
//! Every export is a static method of `qunar.tc.qmq.internal.Native` (internal, no API
//! stability, shipped in lock-step with this library).
//!
//! Invariants:
//! * no panic crosses the boundary: every export runs inside [`guard::run`], which turns a
//!   panic or an error into a pending Java exception and returns a default value;
//! * handles cross as `jlong` pointers to a tagged [`guard::Handle`] with a closed flag: a null
//!   or closed handle gives `ClosedException`, a handle of the wrong kind gives
//!   `QmqException`. The Java `NativeHandle` keeps a handle alive for the whole of each call
//!   and frees it only once no call is running;
//! * no Java code runs on a tokio worker. Send completions are pulled by a Java thread
//!   (`qmq-java-completions`, see `callbacks`), so no core thread enters the JVM for them;
//!   listener messages are handed to the user's `Executor` from the core's blocking pool,
//!   which attaches to the JVM only for the scope of that one call (see `listener`);
//! * every local reference created on a native thread lives in a local frame popped before
//!   the thread detaches, and every global reference is deleted once its completion has
//!   been handed over.
//!
//! `unsafe` appears only where JNI needs it: `JNI_OnLoad`, the unchecked calls through
//! method ids cached at load time, and dereferencing handle pointers; each block says why it
//! is sound.

mod callbacks;
mod client;
mod consumer;
mod errors;
mod guard;
mod listener;
mod message;
mod onload;
mod producer;
#[cfg(feature = "testing")]
mod testing;
mod transaction;

/// The library's version; `Native` refuses to run with a jar of another version.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_version<'l>(
    mut env: jni::JNIEnv<'l>,
    _class: jni::objects::JClass<'l>,
) -> jni::objects::JString<'l> {
    guard::run(&mut env, |env| {
        Ok(env.new_string(env!("CARGO_PKG_VERSION"))?)
    })
}
