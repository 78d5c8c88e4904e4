//! The client handle: one core [`Client`] (runtime, meta client, connections) behind each
//! `MessageProducerProvider` or `MessageConsumerProvider`.

use std::sync::Mutex;
use std::time::Duration;

use jni::JNIEnv;
use jni::objects::{JClass, JLongArray, JString};
use jni::sys::jlong;
use qmq_core::client::consumer::Consumer;
use qmq_core::client::{Client, ClientConfig, Producer};

use crate::errors::BridgeError;
use crate::guard::{self, Handle, Kind, Result};

pub(crate) const WHAT: &str = "client";

/// What a client handle holds.
pub(crate) struct ClientRef {
    pub(crate) client: Client,
    pub(crate) producer: Producer,
    consumer: Mutex<Option<Consumer>>,
}

impl ClientRef {
    /// The consumer of this client, made on first use.
    pub(crate) fn consumer(&self) -> Result<Consumer> {
        let mut slot = self.consumer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = self.client.consumer()?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// The client behind an open handle.
pub(crate) fn open<'a>(ptr: jlong) -> Result<&'a ClientRef> {
    // SAFETY: Java's NativeHandle keeps the pointer alive for the whole call (see guard).
    unsafe { Handle::<ClientRef>::open(ptr, Kind::Client, WHAT) }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Applies the Java option array: positions as in `qunar.tc.qmq.internal.Native.OPT_*`, −1 =
/// the core default.
fn apply(config: &mut ClientConfig, options: &[i64]) -> Result<()> {
    let get = |i: usize| options.get(i).copied().filter(|v| *v >= 0);
    let small = |v: i64, name: &str| {
        u32::try_from(v)
            .map_err(|_| BridgeError::InvalidArgument(format!("{name} {v} is out of range")))
    };
    if let Some(v) = get(0) {
        config.runtime.worker_threads = small(v, "workerThreads")? as usize;
    }
    if let Some(v) = get(1) {
        config.producer.send_tries = small(v, "sendTryCount")?;
    }
    if let Some(v) = get(2) {
        config.producer.send_timeout = ms(v);
    }
    if let Some(v) = get(3) {
        config.producer.batch_size = small(v, "sendBatch")? as usize;
    }
    if let Some(v) = get(4) {
        config.producer.queue_capacity = small(v, "maxQueueSize")? as usize;
    }
    if let Some(v) = get(5) {
        config.consumer.pull_batch_size = small(v, "pullBatchSize")?;
    }
    if let Some(v) = get(6) {
        config.consumer.pull_timeout = ms(v);
    }
    if let Some(v) = get(7) {
        config.consumer.max_retry = small(v, "maxRetryNum")?;
    }
    if let Some(v) = get(8) {
        config.consumer.retry_delay = ms(v);
    }
    Ok(())
}

/// Starts a client; Java owns the returned handle until `clientFree`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_clientNew<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    meta_url: JString<'l>,
    app_code: JString<'l>,
    client_id: JString<'l>,
    options: JLongArray<'l>,
) -> jlong {
    guard::run(&mut env, |env| {
        let meta_url = guard::string(env, &meta_url, "metaServer")?;
        let app_code = guard::string(env, &app_code, "appCode")?;
        let mut config = ClientConfig::new(app_code);
        config.meta.url = meta_url;
        config.client_id = guard::opt_string(env, &client_id)?;
        if !options.is_null() {
            let n = env.get_array_length(&options)?;
            let mut values = vec![0i64; usize::try_from(n).unwrap_or(0)];
            env.get_long_array_region(&options, 0, &mut values)?;
            apply(&mut config, &values)?;
        }
        let client = Client::new(config)?;
        let value = ClientRef {
            producer: client.producer(),
            client,
            consumer: Mutex::new(None),
        };
        Ok(Handle::into_raw(Kind::Client, WHAT, value))
    })
}

/// The client id (`<host>@@<hex>`); works on a closed client too.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_clientId<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) -> JString<'l> {
    guard::run(&mut env, |env| {
        // SAFETY: as `open`.
        let h = unsafe { Handle::<ClientRef>::any(handle, Kind::Client, WHAT)? };
        Ok(env.new_string(h.value().client.client_id().as_str())?)
    })
}

/// Closes the client: stops accepting messages, waits up to `timeout_ms` for pending sends,
/// then stops its threads. Later calls on the handle throw `ClosedException`; a second close
/// does nothing. Blocks the calling Java thread (never a core thread).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_clientClose<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    timeout_ms: jlong,
) {
    guard::run(&mut env, |_env| {
        // SAFETY: as `open`.
        let h = unsafe { Handle::<ClientRef>::any(handle, Kind::Client, WHAT)? };
        if !h.close() {
            return Ok(());
        }
        let value = h.value();
        if let Some(c) = value
            .consumer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            c.close();
        }
        match value.client.close(ms(timeout_ms)) {
            Ok(()) | Err(qmq_core::client::ClientError::FlushTimeout { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    })
}

/// Frees the handle (closing the client first if needed, without waiting for sends).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_Native_clientFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guard::run(&mut env, |_env| {
        // SAFETY: Java calls this once, under its write lock, after every other call returned.
        unsafe { Handle::<ClientRef>::free(handle, Kind::Client, WHAT) }
    })
}
