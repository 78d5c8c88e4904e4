//! `ClientRef`: the core [`Client`] (its runtime, meta client and connections) behind the JS
//! `qmq.Client`.
//!
//! Invariant: the options arrive validated by `index.js`; the core validates the values.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use qmq_core::client::{Client, ClientConfig};

use crate::consumer::ConsumerRef;
use crate::errors;
use crate::producer::ProducerRef;

/// Client options (milliseconds for durations); absent = core default.
#[napi(object)]
pub struct ClientOptions {
    pub client_id: Option<String>,
    pub worker_threads: Option<u32>,
    pub send_tries: Option<u32>,
    pub send_timeout_ms: Option<u32>,
    pub batch_size: Option<u32>,
    pub queue_capacity: Option<u32>,
    pub pull_batch_size: Option<u32>,
    pub pull_timeout_ms: Option<u32>,
    pub max_retry: Option<u32>,
    pub retry_delay_ms: Option<u32>,
}

fn ms(v: u32) -> Duration {
    Duration::from_millis(u64::from(v))
}

/// A connection to one QMQ cluster.
#[napi]
pub struct ClientRef {
    client: Client,
}

#[napi]
impl ClientRef {
    /// Builds the client (starts its runtime; connects lazily).
    #[napi(constructor)]
    pub fn new(meta_url: String, app_code: String, options: Option<ClientOptions>) -> Result<Self> {
        let mut config = ClientConfig::new(app_code);
        config.meta.url = meta_url;
        if let Some(o) = options {
            config.client_id = o.client_id;
            if let Some(v) = o.worker_threads {
                config.runtime.worker_threads = v as usize;
            }
            if let Some(v) = o.send_tries {
                config.producer.send_tries = v;
            }
            if let Some(v) = o.send_timeout_ms {
                config.producer.send_timeout = ms(v);
            }
            if let Some(v) = o.batch_size {
                config.producer.batch_size = v as usize;
            }
            if let Some(v) = o.queue_capacity {
                config.producer.queue_capacity = v as usize;
            }
            if let Some(v) = o.pull_batch_size {
                config.consumer.pull_batch_size = v;
            }
            if let Some(v) = o.pull_timeout_ms {
                config.consumer.pull_timeout = ms(v);
            }
            if let Some(v) = o.max_retry {
                config.consumer.max_retry = v;
            }
            if let Some(v) = o.retry_delay_ms {
                config.consumer.retry_delay = ms(v);
            }
        }
        let client = Client::new(config).map_err(|e| errors::to_js(&e))?;
        Ok(Self { client })
    }

    /// This client's id.
    #[napi(getter)]
    pub fn client_id(&self) -> String {
        self.client.client_id().as_str().to_owned()
    }

    /// Whether `close` has started.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The producer of this client.
    #[napi]
    pub fn producer(&self) -> Result<ProducerRef> {
        if self.client.is_closed() {
            return Err(errors::closed("client"));
        }
        Ok(ProducerRef::new(self.client.clone()))
    }

    /// A consumer of this client.
    #[napi]
    pub fn consumer(&self) -> Result<ConsumerRef> {
        if self.client.is_closed() {
            return Err(errors::closed("client"));
        }
        let consumer = self.client.consumer().map_err(|e| errors::to_js(&e))?;
        Ok(ConsumerRef::new(self.client.clone(), consumer))
    }

    /// Stops accepting messages, waits up to `timeout_ms` for pending sends, then stops every
    /// task. Idempotent. Awaited on napi's runtime, never on the event loop.
    #[napi]
    pub async fn close(&self, timeout_ms: u32) -> Result<()> {
        self.client
            .close_async(ms(timeout_ms))
            .await
            .map_err(|e| errors::to_js(&e))
    }
}
