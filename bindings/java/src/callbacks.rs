//! Send completions back to Java, without running Java on a tokio worker.
//!
//! The core calls a send callback on one of its runtime workers, which must neither block nor
//! run user code. The callback only pushes `(completion, result)` into a channel. One
//! process-wide bridge thread, `qmq-java-completions`, drains it, attaches to the JVM for the
//! scope of one batch (detaching after it), and calls
//! `Native.onSendBatch(Object[] completions, Object[] errors, int count)` once per batch of up
//! to [`BATCH`], which completes each Java `SendCompletion` (listener, future).
//!
//! Invariants: every queued completion is delivered exactly once while the JVM is alive; its
//! global reference is deleted right after delivery, on the attached thread; the local
//! references of a batch live in one local frame popped before the thread detaches; an
//! exception thrown by the Java side is printed and cleared, never stopping the thread.

use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, Sender, channel};

use jni::JNIEnv;
use jni::objects::{GlobalRef, JClass, JObject, JObjectArray};
use jni::signature::{Primitive, ReturnType};
use jni::sys::jvalue;
use qmq_core::client::{SendCallback, SendResult};

use crate::errors;
use crate::onload::{self, Cache};

/// The most completions handed to Java in one call.
const BATCH: usize = 512;

/// One finished send and the Java object waiting for it.
struct Job {
    completion: GlobalRef,
    result: SendResult,
}

fn sender() -> &'static Sender<Job> {
    static TX: OnceLock<Sender<Job>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = channel();
        // If the thread cannot start, completions are dropped with the channel; report it
        // loudly since the Java futures would never complete.
        if let Err(e) = std::thread::Builder::new()
            .name("qmq-java-completions".to_owned())
            .spawn(move || run(rx))
        {
            eprintln!("qmq: cannot start the completion thread: {e}");
        }
        tx
    })
}

/// A core send callback that completes the Java `completion` object on the bridge thread.
pub(crate) fn send_callback(completion: GlobalRef) -> SendCallback {
    let tx = sender().clone();
    Box::new(move |result| {
        // The receiver lives as long as the process.
        let _ = tx.send(Job { completion, result });
    })
}

fn run(rx: Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let Some(cache) = onload::cache() else {
            // Without JNI_OnLoad no completion could have been created.
            batch.clear();
            continue;
        };
        match cache.vm.attach_current_thread() {
            Ok(mut env) => {
                deliver(&mut env, cache, &batch);
                onload::clear_pending(&mut env);
                // Global references are deleted here, while attached.
                batch.clear();
            }
            Err(e) => {
                eprintln!("qmq: cannot attach the completion thread: {e}");
                batch.clear();
            }
        }
    }
}

fn deliver(env: &mut JNIEnv<'_>, cache: &Cache, batch: &[Job]) {
    let n = batch.len();
    let count = i32::try_from(n).unwrap_or(i32::MAX);
    let outcome = env.with_local_frame(16, |env| -> jni::errors::Result<()> {
        let object_class = <&JClass<'_>>::from(cache.object_class.as_obj());
        let completions: JObjectArray<'_> =
            env.new_object_array(count, object_class, JObject::null())?;
        let errors_array: JObjectArray<'_> =
            env.new_object_array(count, object_class, JObject::null())?;
        for (i, job) in batch.iter().enumerate() {
            let i = i32::try_from(i).unwrap_or(i32::MAX);
            env.set_object_array_element(&completions, i, job.completion.as_obj())?;
            if let Err(e) = &job.result {
                let ex = errors::client_exception(env, e)?;
                env.set_object_array_element(&errors_array, i, &ex)?;
                env.delete_local_ref(ex)?;
            }
        }
        let args = [
            jvalue {
                l: completions.as_raw(),
            },
            jvalue {
                l: errors_array.as_raw(),
            },
            jvalue { i: count },
        ];
        // SAFETY: `on_send_batch` was looked up in JNI_OnLoad on this very class with the
        // signature `([Ljava/lang/Object;[Ljava/lang/Object;I)V`, and `args` match it.
        unsafe {
            env.call_static_method_unchecked(
                <&JClass<'_>>::from(cache.native_class.as_obj()),
                cache.on_send_batch,
                ReturnType::Primitive(Primitive::Void),
                &args,
            )?;
        }
        Ok(())
    });
    if outcome.is_err() {
        onload::clear_pending(env);
    }
}
