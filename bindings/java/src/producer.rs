//! Producer exports: message ids, send, flush, pending.
//!
//! A Java `BaseMessage` crosses as one `byte[]` (see `message`) and is built into a core
//! message here, so an invalid message (bad subject, reserved key, value over 32767 bytes)
//! throws `InvalidArgumentException` from `sendMessage` itself.

use std::time::Duration;

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JObject, JObjectArray};
use jni::sys::{jint, jlong};
use qmq_core::client::ClientError;

use crate::callbacks;
use crate::client;
use crate::errors::BridgeError;
use crate::guard;
use crate::message;

/// `producerSend` result: the message was queued.
const ACCEPTED: jint = 0;
/// `producerSend` result: the queue is full; nothing was queued (Java waits and retries).
const QUEUE_FULL: jint = 1;

/// `count` fresh QMQ message ids (for `generateMessage`, which takes them one at a time).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_producerNextIds<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    count: jint,
) -> JObjectArray<'l> {
    guard::run(&mut env, |env| {
        let c = client::open(handle)?;
        if !(1..=4096).contains(&count) {
            return Err(BridgeError::InvalidArgument(format!(
                "id count {count} is not in 1..=4096"
            )));
        }
        let array = env.new_object_array(count, "java/lang/String", JObject::null())?;
        for i in 0..count {
            let id = env.new_string(c.producer.next_message_id())?;
            env.set_object_array_element(&array, i, &id)?;
            env.delete_local_ref(id)?;
        }
        Ok(array)
    })
}

/// Queues one message. `token` is the Java `SendTable` slot completed once on the bridge's
/// completion thread, or negative for a send nobody waits for. Returns [`ACCEPTED`] or
/// [`QUEUE_FULL`]; any other refusal throws and `token` is never completed.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_producerSend<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    message: JByteArray<'l>,
    token: jlong,
) -> jint {
    guard::run(&mut env, |env| {
        let c = client::open(handle)?;
        if message.is_null() {
            return Err(BridgeError::InvalidArgument(
                "message must not be null".to_owned(),
            ));
        }
        let bytes = env.convert_byte_array(&message)?;
        let built = message::decode_outgoing(&c.producer, &bytes)?;
        let callback = if token < 0 {
            Box::new(|_| {})
        } else {
            callbacks::send_callback(token)
        };
        match c.producer.send_with_callback(built, callback) {
            Ok(()) => Ok(ACCEPTED),
            Err(ClientError::QueueFull { .. }) => Ok(QUEUE_FULL),
            Err(e) => Err(e.into()),
        }
    })
}

/// Waits up to `timeout_ms` until every accepted message has completed; throws
/// `QmqException` (kind `FlushTimeout`) otherwise.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_producerFlush<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    guard::run(&mut env, |_env| {
        let c = client::open(handle)?;
        let deadline = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        Ok(c.producer.flush_blocking(deadline)?)
    })
}

/// Messages accepted and not yet completed.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_producerPending<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> jint {
    guard::run(&mut env, |_env| {
        let c = client::open(handle)?;
        Ok(jint::try_from(c.producer.pending()).unwrap_or(jint::MAX))
    })
}
