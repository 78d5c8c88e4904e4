//! The listener API: a Java `MessageListener` behind a core [`Handler`], and its subscription
//! handle.
//!
//! The core runs handlers on its blocking pool, never on a tokio worker. For each message the
//! handler puts the message and a completion (a channel sender) into the subscription's inbox
//! and waits (off the JVM) for the outcome. A Java thread of the subscription pulls batches from
//! the inbox with `listenerNext(sub, long[] completions, timeoutMs)` and hands each message to
//! the user's `Executor`; the task reports the outcome through `listenerComplete(completion,
//! reason)`: `reason` null acks the message, anything else fails it (retry, then dead letter).
//! No core thread attaches to the JVM: attaching per message cost about 40 % of the listener's
//! throughput.
//!
//! Invariants: a completion is a boxed channel sender owned by Java once `listenerNext` returned
//! it, and consumed exactly once by `listenerComplete`; the Java side completes every message it
//! pulled (also when the executor rejects it). A message nobody pulls (the handle was freed) or
//! whose task never finished after the subscription stopped fails: it is retried, never lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong};
use qmq_core::client::consumer::host_outcome::{HostOutcome, wait_for_host};
use qmq_core::client::consumer::{Handler, HandlerError, Subscription};
use qmq_core::protocol::Message;

use crate::client;
use crate::consumer;
use crate::errors::BridgeError;
use crate::guard::{self, Handle, Kind, Result};
use crate::message::Writer;

const WHAT: &str = "listener";

/// Whether the subscription still hands messages to Java; cleared on stop, so that handlers
/// still waiting give up after the core's `GRACE_AFTER_STOP`.
type Running = Arc<AtomicBool>;

/// One message waiting for the Java puller, and where its outcome goes.
struct Job {
    message: Message,
    done: SyncSender<HostOutcome>,
}

/// Messages handed from core handlers to the subscription's Java puller.
struct Inbox {
    tx: Sender<Job>,
    /// Taken by the registration's one pull thread (a resume makes a new subscription).
    rx: Mutex<Receiver<Job>>,
}

/// What a subscription handle holds.
pub(crate) struct SubscriptionRef {
    sub: Subscription,
    running: Running,
    inbox: Arc<Inbox>,
}

fn is_running(running: &Running) -> bool {
    running.load(Ordering::Acquire)
}

fn java_handler(running: Running, inbox: Arc<Inbox>) -> Handler {
    Arc::new(move |message: &Message| {
        if !is_running(&running) {
            return Err(HandlerError::new("the listener is stopped"));
        }
        let (done, rx) = sync_channel::<HostOutcome>(1);
        let job = Job {
            message: message.clone(),
            done,
        };
        inbox
            .tx
            .send(job)
            .map_err(|_| HandlerError::new("the listener is gone"))?;
        wait_for_host(&rx, || !is_running(&running))
    })
}

fn any<'a>(ptr: jlong) -> Result<&'a Handle<SubscriptionRef>> {
    // SAFETY: Java's NativeHandle keeps the pointer alive for the whole call.
    unsafe { Handle::<SubscriptionRef>::any(ptr, Kind::Subscription, WHAT) }
}

/// Starts a listener of `subject` for `group` ("" for broadcast), at most `concurrency`
/// messages at a time; Java pulls them with `listenerNext`.
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
) -> jlong {
    guard::run(&mut env, |env| {
        let c = client::open(client_handle)?;
        let subject = guard::string(env, &subject, "subject")?;
        let group = guard::opt_string(env, &group)?.unwrap_or_default();
        let mut options = consumer::options(env, &tags, tag_type, broadcast, at_most_once)?;
        options.concurrency = usize::try_from(concurrency).unwrap_or(0);
        let running: Running = Arc::new(AtomicBool::new(true));
        let (tx, rx) = channel();
        let inbox = Arc::new(Inbox {
            tx,
            rx: Mutex::new(rx),
        });
        let sub = c.consumer()?.subscribe(
            &subject,
            &group,
            options,
            java_handler(running.clone(), inbox.clone()),
        )?;
        Ok(Handle::into_raw(
            Kind::Subscription,
            WHAT,
            SubscriptionRef {
                sub,
                running,
                inbox,
            },
        ))
    })
}

/// Waits up to `timeout_ms` for messages of the subscription and returns up to
/// `completions.length` of them (the listener layout of `message`, count first), their
/// completions in `completions[0..count]`; null when none came. Also works on a stopped
/// subscription, whose running handlers still wait for Java.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_listenerNext<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    completions: JLongArray<'l>,
    timeout_ms: jlong,
) -> JByteArray<'l> {
    guard::run(&mut env, |env| {
        let inbox = any(handle)?.value().inbox.clone();
        if completions.is_null() {
            return Err(BridgeError::InvalidArgument(
                "the completion array must not be null".to_owned(),
            ));
        }
        let cap = usize::try_from(env.get_array_length(&completions)?).unwrap_or(0);
        if cap == 0 {
            return Err(BridgeError::InvalidArgument(
                "the completion array must not be empty".to_owned(),
            ));
        }
        let mut jobs = Vec::new();
        {
            let rx = inbox.rx.lock().unwrap_or_else(|e| e.into_inner());
            let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
            match rx.recv_timeout(timeout) {
                Ok(job) => jobs.push(job),
                Err(_) => return Ok(JByteArray::from(JObject::null())),
            }
            while jobs.len() < cap {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        let mut writer = Writer::with_count(jobs.len());
        for job in &jobs {
            writer.message(&job.message);
        }
        let array = env.byte_array_from_slice(&writer.into_bytes())?;
        // Hand the completions over only once nothing can fail any more: on an error above the
        // jobs drop here and their handlers fail the messages (retried), none leaks.
        let handles: Vec<jlong> = jobs
            .into_iter()
            .map(|job| Box::into_raw(Box::new(job.done)) as jlong)
            .collect();
        if let Err(e) = env.set_long_array_region(&completions, 0, &handles) {
            for h in handles {
                // SAFETY: made by `Box::into_raw` just above and never handed to Java.
                drop(unsafe { Box::from_raw(h as *mut SyncSender<HostOutcome>) });
            }
            return Err(e.into());
        }
        Ok(array)
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
        // SAFETY: `completion` was made by `listenerNext` and Java hands it back exactly once (it
        // swaps its copy to 0 first), so the box is live and owned here.
        let tx = unsafe { Box::from_raw(completion as *mut SyncSender<HostOutcome>) };
        // The handler may have given up (stopped); nothing to do then.
        let _ = tx.try_send(reason);
        Ok(())
    })
}

/// Stops pulling, lets running handlers finish and flushes their acks, waiting up to
/// `timeout_ms`; returns whether it fully stopped in time.
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
        s.running.store(false, Ordering::Release);
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
        any(handle)?;
        // SAFETY: Java calls this once, under its write lock, after every other call returned.
        unsafe { Handle::<SubscriptionRef>::free(handle, Kind::Subscription, WHAT) }
    })
}
