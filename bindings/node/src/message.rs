//! Messages across the bridge: the outgoing [`MessageInput`] read into a core
//! [`ProducerMessage`], and [`DeliveredRef`], a received message with its completion duty.
//!
//! A pulled message completes through its core ack handle; a listener message completes
//! through a channel that the waiting handler thread reads (see `listener`). Either way a
//! message completes at most once; one dropped uncompleted is failed (retried).

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use qmq_core::client::consumer::delivery::AckHandle;
use qmq_core::client::{ClientError, Producer, ProducerMessage};
use qmq_core::protocol::Message;
use qmq_core::protocol::names::attr;

/// An outgoing message as `index.js` passes it (types already checked there).
#[napi(object)]
pub struct MessageInput {
    pub subject: String,
    /// Flat `[key, value, key, value, ...]` (cheaper to cross the bridge than an object).
    pub properties: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub delay_ms: Option<f64>,
    pub delay_until_ms: Option<f64>,
    pub max_retries: Option<u32>,
}

/// Builds a core message with a fresh id.
pub(crate) fn build(
    producer: &Producer,
    m: MessageInput,
) -> std::result::Result<ProducerMessage, ClientError> {
    let mut message = producer.generate_message(&m.subject)?;
    if let Some(props) = m.properties {
        let mut it = props.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            message.set_property(&k, v)?;
        }
    }
    for tag in m.tags.unwrap_or_default() {
        message.add_tag(&tag)?;
    }
    if let Some(d) = m.delay_ms {
        message.set_delay(Duration::from_millis(d.max(0.0) as u64))?;
    }
    if let Some(at) = m.delay_until_ms {
        message.set_delay_until(UNIX_EPOCH + Duration::from_millis(at.max(0.0) as u64))?;
    }
    if let Some(max) = m.max_retries {
        message.set_max_retries(max);
    }
    Ok(message)
}

/// How a received message is completed.
pub(crate) enum Completion {
    /// Pull API: the core ack handle.
    Ack(AckHandle),
    /// Listener API: the handler thread waiting for the outcome (`None` = success).
    Listener(Sender<Option<String>>),
}

/// A received message.
#[napi]
pub struct DeliveredRef {
    message: Arc<Message>,
    completion: Mutex<Option<Completion>>,
}

impl DeliveredRef {
    pub(crate) fn new(message: Arc<Message>, completion: Completion) -> Self {
        Self {
            message,
            completion: Mutex::new(Some(completion)),
        }
    }
}

#[napi]
impl DeliveredRef {
    /// The (real) subject.
    #[napi(getter)]
    pub fn subject(&self) -> String {
        self.message.header.subject.clone()
    }

    /// The message id.
    #[napi(getter)]
    pub fn message_id(&self) -> String {
        self.message.header.message_id.clone()
    }

    /// The tags.
    #[napi(getter)]
    pub fn tags(&self) -> Vec<String> {
        self.message.header.tags.clone()
    }

    /// Creation time, epoch milliseconds.
    #[napi(getter)]
    pub fn created_ms(&self) -> f64 {
        self.message.header.created_time as f64
    }

    /// Delivery attempt number (`qmq_times`, 1 for a first delivery).
    #[napi(getter)]
    pub fn times(&self) -> u32 {
        self.message
            .attr(attr::TIMES)
            .and_then(|t| t.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .max(1)
    }

    /// Every attribute as `[key, value]` pairs in wire order (reserved `qmq_*` ones included).
    #[napi]
    pub fn attributes(&self) -> Vec<Vec<String>> {
        self.message
            .attrs
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect()
    }

    /// One attribute, or `null`.
    #[napi]
    pub fn get(&self, key: String) -> Option<String> {
        self.message.attr(&key).map(str::to_owned)
    }

    /// A QMQ large string (`key#part0..N`), or `null`.
    #[napi]
    pub fn get_large_string(&self, key: String) -> Option<String> {
        qmq_core::client::producer::message::get_large_string(&self.message.attrs, &key)
    }

    /// Whether a completion is still owed.
    #[napi(getter)]
    pub fn needs_ack(&self) -> bool {
        self.completion
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Acks (`reason` absent) or fails (retry) the message. Returns `false` if it was already
    /// completed. Never blocks: the core queues the ack.
    #[napi]
    pub fn complete(&self, reason: Option<String>) -> Result<bool> {
        let taken = self
            .completion
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match taken {
            None => Ok(false),
            Some(Completion::Ack(ack)) => {
                match reason {
                    None => ack.ack(),
                    Some(r) => ack.ack_error(r),
                }
                Ok(true)
            }
            Some(Completion::Listener(tx)) => {
                // The handler thread may have given up (stopped); nothing to do then.
                let _ = tx.send(reason);
                Ok(true)
            }
        }
    }
}
