//! The listener API: a Java `MessageListener` behind a core [`Handler`], and its subscription
//! handle.
//!
//! The core runs handlers on its blocking pool, never on a tokio worker. For each message the
//! handler attaches that thread to the JVM for the scope of one call,
//! `Native.dispatch(dispatcher, byte[] message, long completion)`, which only hands the message
//! to the user's `Executor` and returns; the thread detaches and then waits (off the JVM) for
//! the Java task to report the outcome through `listenerComplete(completion, reason)`.
//! `reason` null acks the message; anything else fails it (retry, then dead letter).
//!
//! Invariants: a completion is a boxed channel sender owned by Java once `dispatch` returned
//! normally, and consumed exactly once by `listenerComplete`; the Java side completes every
//! message it accepted (also when the executor rejects it). If Java can no longer be reached
//! or the subscription stopped and the task never finished, the message fails: it is retried,
//! never lost. The dispatcher's global reference is released on a Java thread when the
//! subscription is stopped or freed.

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jni::JNIEnv;
use jni::objects::{GlobalRef, JClass, JObject, JObjectArray, JString};
use jni::signature::{Primitive, ReturnType};
use jni::sys::{jboolean, jint, jlong, jvalue};
use qmq_core::client::consumer::{Handler, HandlerError, Subscription};
use qmq_core::protocol::Message;

use crate::client;
use crate::consumer;
use crate::errors::BridgeError;
use crate::guard::{self, Handle, Kind, Result};
use crate::message::Writer;
use crate::onload;

const WHAT: &str = "listener";

/// How long a running handler may still take after the subscription was stopped.
const GRACE_AFTER_STOP: Duration = Duration::from_secs(10);

/// The Java dispatcher, shared by the core handler and the subscription handle; emptied on
/// stop so that the global reference is deleted on the Java thread that stops.
type Slot = Arc<Mutex<Option<GlobalRef>>>;

/// The outcome Java reports: `None` = ack, `Some(reason)` = fail.
type Outcome = Option<String>;

/// What a subscription handle holds.
pub(crate) struct SubscriptionRef {
    sub: Subscription,
    slot: Slot,
}

fn take(slot: &Slot) -> Option<GlobalRef> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn java_handler(slot: Slot) -> Handler {
    Arc::new(move |message: &Message| {
        let dispatcher = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| HandlerError::new("the listener is stopped"))?;
        let (tx, rx) = sync_channel::<Outcome>(1);
        let mut w = Writer::with_count(1);
        w.message(message);
        dispatch(dispatcher, &w.into_bytes(), tx)?;
        wait(&slot, &rx)
    })
}

/// Hands one message to Java (attached for this scope only).
fn dispatch(
    dispatcher: GlobalRef,
    bytes: &[u8],
    tx: SyncSender<Outcome>,
) -> std::result::Result<(), HandlerError> {
    let cache = onload::cache().ok_or_else(|| HandlerError::new("JNI_OnLoad did not run"))?;
    let mut env = cache
        .vm
        .attach_current_thread()
        .map_err(|e| HandlerError::new(format!("cannot attach to the JVM: {e}")))?;
    let mut handed_over = false;
    let called = env.with_local_frame(4, |env| -> jni::errors::Result<()> {
        let array = env.byte_array_from_slice(bytes)?;
        let completion = Box::into_raw(Box::new(tx)) as jlong;
        let args = [
            jvalue {
                l: dispatcher.as_obj().as_raw(),
            },
            jvalue { l: array.as_raw() },
            jvalue { j: completion },
        ];
        handed_over = true;
        // SAFETY: `dispatch` was looked up in JNI_OnLoad on this class with the signature
        // `(Ljava/lang/Object;[BJ)V`, and `args` match it.
        unsafe {
            env.call_static_method_unchecked(
                <&JClass<'_>>::from(cache.native_class.as_obj()),
                cache.dispatch,
                ReturnType::Primitive(Primitive::Void),
                &args,
            )?;
        }
        Ok(())
    });
    let failed = called.is_err() || env.exception_check().unwrap_or(true);
    onload::clear_pending(&mut env);
    // Deleted while attached.
    drop(dispatcher);
    if failed {
        // If the call was made, Java may or may not have taken the completion: it is not
        // freed here (a double free would be worse than this small leak on a path that needs
        // an Error in Java). If it was not made, the completion was never created.
        let reason = if handed_over {
            "the Java dispatcher failed"
        } else {
            "cannot pass the message to Java"
        };
        return Err(HandlerError::new(reason));
    }
    Ok(())
}

/// Waits (detached) for Java's outcome.
fn wait(slot: &Slot, rx: &Receiver<Outcome>) -> std::result::Result<(), HandlerError> {
    let mut stopped_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(None) => return Ok(()),
            Ok(Some(reason)) => return Err(HandlerError::new(reason)),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(HandlerError::new("the message was dropped uncompleted"));
            }
            Err(RecvTimeoutError::Timeout) => {
                let stopped = slot.lock().unwrap_or_else(|e| e.into_inner()).is_none();
                if stopped {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    if since.elapsed() > GRACE_AFTER_STOP {
                        return Err(HandlerError::new(
                            "the listener stopped before the handler finished",
                        ));
                    }
                }
            }
        }
    }
}

fn any<'a>(ptr: jlong) -> Result<&'a Handle<SubscriptionRef>> {
    // SAFETY: Java's NativeHandle keeps the pointer alive for the whole call.
    unsafe { Handle::<SubscriptionRef>::any(ptr, Kind::Subscription, WHAT) }
}

/// Starts a listener of `subject` for `group` ("" for broadcast); messages go to
/// `dispatcher` (a Java `ListenerDispatcher`), at most `concurrency` at a time.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments, reason = "one JNI argument per option")]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_subscribe<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    client_handle: jlong,
    subject: JString<'l>,
    group: JString<'l>,
    tags: JObjectArray<'l>,
    tag_type: jint,
    broadcast: jboolean,
    at_most_once: jboolean,
    concurrency: jint,
    dispatcher: JObject<'l>,
) -> jlong {
    guard::run(&mut env, |env| {
        let c = client::open(client_handle)?;
        let subject = guard::string(env, &subject, "subject")?;
        let group = guard::opt_string(env, &group)?.unwrap_or_default();
        if dispatcher.is_null() {
            return Err(BridgeError::InvalidArgument(
                "listener must not be null".to_owned(),
            ));
        }
        let mut options = consumer::options(env, &tags, tag_type, broadcast, at_most_once)?;
        options.concurrency = usize::try_from(concurrency).unwrap_or(0);
        let slot: Slot = Arc::new(Mutex::new(Some(env.new_global_ref(&dispatcher)?)));
        let sub = c
            .consumer()?
            .subscribe(&subject, &group, options, java_handler(slot.clone()));
        let sub = match sub {
            Ok(s) => s,
            Err(e) => {
                take(&slot);
                return Err(e.into());
            }
        };
        Ok(Handle::into_raw(
            Kind::Subscription,
            WHAT,
            SubscriptionRef { sub, slot },
        ))
    })
}

/// Reports a listener message's outcome: `reason` null acks it, anything else fails it.
/// Consumes `completion`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_listenerComplete<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    completion: jlong,
    reason: JString<'l>,
) {
    guard::run(&mut env, |env| {
        if completion == 0 {
            return Err(BridgeError::InvalidArgument(
                "the message was already acked".to_owned(),
            ));
        }
        let reason = guard::opt_string(env, &reason)?;
        // SAFETY: `completion` was made by `dispatch` and Java hands it back exactly once (it
        // swaps its copy to 0 first), so the box is live and owned here.
        let tx = unsafe { Box::from_raw(completion as *mut SyncSender<Outcome>) };
        // The handler may have given up (stopped); nothing to do then.
        let _ = tx.try_send(reason);
        Ok(())
    })
}

/// Stops pulling, lets running handlers finish and flushes their acks, waiting up to
/// `timeout_ms`; returns whether it fully stopped in time. Releases the Java listener.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_subStop<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) -> jboolean {
    guard::run(&mut env, |_env| {
        let h = any(handle)?;
        h.close();
        let s = h.value();
        s.sub.stop();
        let deadline =
            Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        while !s.sub.is_stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        take(&s.slot);
        Ok(u8::from(s.sub.is_stopped()))
    })
}

/// The consumer group on the wire (the client id for broadcast).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_subGroup<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> JString<'l> {
    guard::run(&mut env, |env| {
        Ok(env.new_string(any(handle)?.value().sub.group())?)
    })
}

/// Frees the handle (stopping the listener without waiting if it still runs).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_subFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guard::run(&mut env, |_env| {
        take(&any(handle)?.value().slot);
        // SAFETY: Java calls this once, under its write lock, after every other call returned.
        unsafe { Handle::<SubscriptionRef>::free(handle, Kind::Subscription, WHAT) }
    })
}
