//! Test-only exports (feature `testing`): let the Java tests check that a panic inside the
//! bridge and a core error both surface as Java exceptions, never as a crash.

use jni::JNIEnv;
use jni::objects::JClass;
use qmq_core::client::ClientError;

use crate::guard;

/// Panics inside the guard; Java sees `QmqException` with kind `Panic`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_testingPanic<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) {
    guard::run(&mut env, |_env| -> guard::Result<()> {
        panic!("qmq_testing panic");
    })
}

/// Fails with a core `QueueFull`; Java sees `QueueFullException`, retriable.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_testingFail<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jni::sys::jlong {
    guard::run(&mut env, |_env| {
        Err(ClientError::QueueFull { capacity: 7 }.into())
    })
}
