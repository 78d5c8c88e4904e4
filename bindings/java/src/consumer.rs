//! Pull-consumer exports, consume options, and acks.
//!
//! A pull returns every message in one `byte[]` (see `message`) and writes one ack handle per
//! message into a `long[]` the caller passes in. An ack handle is a boxed core
//! [`AckHandle`]; `ack` consumes it, so each message completes exactly once (Java zeroes its
//! copy before calling).

use std::time::Duration;

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JLongArray, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong};
use qmq_core::client::consumer::{AckHandle, ConsumeOptions, PullConsumer};
use qmq_core::protocol::TagType;

use crate::client;
use crate::errors::BridgeError;
use crate::guard::{self, Handle, Kind, Result};
use crate::message::Writer;

const WHAT: &str = "pull consumer";

/// Consume options from the Java arguments. `tag_type` uses QMQ's `TagType` codes
/// (0 none, 1 OR, 2 AND).
pub(crate) fn options(
    env: &mut JNIEnv<'_>,
    tags: &JObjectArray<'_>,
    tag_type: jint,
    broadcast: jboolean,
    at_most_once: jboolean,
) -> Result<ConsumeOptions> {
    let tag_type = match tag_type {
        0 | 1 => TagType::Or,
        2 => TagType::And,
        other => {
            return Err(BridgeError::InvalidArgument(format!(
                "tag type code {other} is not 0 (NO_TAG), 1 (OR) or 2 (AND)"
            )));
        }
    };
    Ok(ConsumeOptions {
        tags: guard::string_array(env, tags, "tag")?,
        tag_type,
        broadcast: broadcast != 0,
        at_most_once: at_most_once != 0,
        ..ConsumeOptions::default()
    })
}

fn open<'a>(ptr: jlong) -> Result<&'a PullConsumer> {
    // SAFETY: Java's NativeHandle keeps the pointer alive for the whole call.
    unsafe { Handle::<PullConsumer>::open(ptr, Kind::Pull, WHAT) }
}

/// Starts a pull consumer of `subject` for `group` ("" for broadcast).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "one JNI argument per option")]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_pullNew<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    client_handle: jlong,
    subject: JString<'l>,
    group: JString<'l>,
    tags: JObjectArray<'l>,
    tag_type: jint,
    broadcast: jboolean,
    at_most_once: jboolean,
) -> jlong {
    guard::run(&mut env, |env| {
        let c = client::open(client_handle)?;
        let subject = guard::string(env, &subject, "subject")?;
        let group = guard::opt_string(env, &group)?.unwrap_or_default();
        let options = options(env, &tags, tag_type, broadcast, at_most_once)?;
        let pc = c.consumer()?.pull_consumer(&subject, &group, options)?;
        Ok(Handle::into_raw(Kind::Pull, WHAT, pc))
    })
}

/// Waits until `max` messages arrived or `timeout_ms` passed; returns them encoded and writes
/// their ack handles into `acks[0..count]` (`acks` must hold `max`). Blocks the calling Java
/// thread only.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_pullPull<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    max: jint,
    timeout_ms: jlong,
    acks: JLongArray<'l>,
) -> JByteArray<'l> {
    guard::run(&mut env, |env| {
        let pc = open(handle)?;
        if acks.is_null() || env.get_array_length(&acks)? < max {
            return Err(BridgeError::InvalidArgument(
                "the ack array must hold max entries".to_owned(),
            ));
        }
        let max = usize::try_from(max).unwrap_or(0);
        let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        let got = pc.pull_blocking(max, timeout)?;
        let mut writer = Writer::with_count(got.len());
        let mut handles = Vec::with_capacity(got.len());
        for d in got {
            let (message, ack) = d.into_parts();
            writer.message(&message);
            handles.push(Box::into_raw(Box::new(ack)) as jlong);
        }
        let bytes = writer.into_bytes();
        // Hand the ack handles over only once nothing can fail any more, so none leaks.
        let filled = env.byte_array_from_slice(&bytes).and_then(|array| {
            env.set_long_array_region(&acks, 0, &handles)
                .map(|()| array)
        });
        match filled {
            Ok(array) => Ok(array),
            Err(e) => {
                for h in handles {
                    // SAFETY: made by `Box::into_raw` just above and never handed to Java.
                    drop(unsafe { Box::from_raw(h as *mut AckHandle) });
                }
                Err(e.into())
            }
        }
    })
}

/// Acks (`reason` null) or fails (retry) one message and frees its ack handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_ack<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    ack: jlong,
    reason: JString<'l>,
) {
    guard::run(&mut env, |env| {
        if ack == 0 {
            return Err(BridgeError::InvalidArgument(
                "the message was already acked".to_owned(),
            ));
        }
        let reason = guard::opt_string(env, &reason)?;
        // SAFETY: `ack` came from `pullPull` and Java hands it over exactly once (it swaps its
        // copy to 0 first), so the box is live and owned here.
        let handle = unsafe { Box::from_raw(ack as *mut AckHandle) };
        match reason {
            None => handle.ack(),
            Some(r) => handle.ack_error(r),
        }
        Ok(())
    })
}

/// The consumer group on the wire (the client id for broadcast).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_pullGroup<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> JString<'l> {
    guard::run(&mut env, |env| {
        // SAFETY: as `open`.
        let h = unsafe { Handle::<PullConsumer>::any(handle, Kind::Pull, WHAT)? };
        Ok(env.new_string(h.value().group())?)
    })
}

/// Stops pulling and flushes the acks sent so far; later pulls throw `ClosedException`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_pullClose<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guard::run(&mut env, |_env| {
        // SAFETY: as `open`.
        let h = unsafe { Handle::<PullConsumer>::any(handle, Kind::Pull, WHAT)? };
        if h.close() {
            h.value().close_blocking()?;
        }
        Ok(())
    })
}

/// Frees the handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_pullFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guard::run(&mut env, |_env| {
        // SAFETY: Java calls this once, under its write lock, after every other call returned.
        unsafe { Handle::<PullConsumer>::free(handle, Kind::Pull, WHAT) }
    })
}
