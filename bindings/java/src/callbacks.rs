//! Send completions back to Java, without running Java on a tokio worker and without
//! attaching any core thread.
//!
//! The core calls a send callback on one of its runtime workers, which must neither block nor
//! run user code. The callback only pushes `(completion, result)` into a process-wide channel.
//! A Java daemon thread, `qmq-java-completions` (started by `Native`), pulls from it with
//! `completionsNext(Object[] completions, Object[] errors, long timeoutMs)`: the call blocks
//! (outside the JVM's locks) until at least one completion is ready or the timeout passes,
//! fills the arrays with up to their length, and returns how many it filled. Java then
//! completes each `SendCompletion` (listener, future). Pulling instead of calling into the
//! JVM from a native thread avoids an attach per batch, which cost a third of the producer's
//! throughput.
//!
//! Invariants: every queued completion is handed to Java exactly once; its global reference
//! is deleted right after it was stored in the array (the array keeps the object alive), on
//! the Java thread; each exception object is a local reference deleted once stored.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use jni::JNIEnv;
use jni::objects::{GlobalRef, JClass, JObjectArray};
use jni::sys::{jint, jlong};
use qmq_core::client::{SendCallback, SendResult};

use crate::errors::{self, BridgeError};
use crate::guard;

/// One finished send and the Java object waiting for it.
struct Job {
    completion: GlobalRef,
    result: SendResult,
}

struct Queue {
    tx: Sender<Job>,
    rx: Mutex<Receiver<Job>>,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel();
        Queue {
            tx,
            rx: Mutex::new(rx),
        }
    })
}

/// A core send callback that queues the Java `completion` object for the completion thread.
pub(crate) fn send_callback(completion: GlobalRef) -> SendCallback {
    let tx = queue().tx.clone();
    Box::new(move |result| {
        // The receiver lives as long as the process.
        let _ = tx.send(Job { completion, result });
    })
}

/// Waits up to `timeout_ms` for finished sends and stores up to `completions.length` of them
/// (`errors[i]` null for a success, else the exception); returns how many.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_completionsNext<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    completions: JObjectArray<'l>,
    errors_out: JObjectArray<'l>,
    timeout_ms: jlong,
) -> jint {
    guard::run(&mut env, |env| {
        if completions.is_null() || errors_out.is_null() {
            return Err(BridgeError::InvalidArgument(
                "completion arrays must not be null".to_owned(),
            ));
        }
        let cap = env
            .get_array_length(&completions)?
            .min(env.get_array_length(&errors_out)?);
        let cap = usize::try_from(cap).unwrap_or(0);
        if cap == 0 {
            return Ok(0);
        }
        let mut jobs = Vec::with_capacity(cap.min(1024));
        {
            let rx = queue().rx.lock().unwrap_or_else(|e| e.into_inner());
            let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
            match rx.recv_timeout(timeout) {
                Ok(job) => jobs.push(job),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Ok(0),
            }
            while jobs.len() < cap {
                match rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        store(env, &completions, &errors_out, &jobs)?;
        // The arrays hold the objects now; the global references go here, on this thread.
        Ok(jint::try_from(jobs.len()).unwrap_or(jint::MAX))
    })
}

fn store(
    env: &mut JNIEnv<'_>,
    completions: &JObjectArray<'_>,
    errors_out: &JObjectArray<'_>,
    jobs: &[Job],
) -> guard::Result<()> {
    for (i, job) in jobs.iter().enumerate() {
        let i = jint::try_from(i).unwrap_or(jint::MAX);
        env.set_object_array_element(completions, i, job.completion.as_obj())?;
        match &job.result {
            Ok(_) => env.set_object_array_element(errors_out, i, jni::objects::JObject::null())?,
            Err(e) => {
                let ex = errors::client_exception(env, e)?;
                env.set_object_array_element(errors_out, i, &ex)?;
                env.delete_local_ref(ex)?;
            }
        }
    }
    Ok(())
}
