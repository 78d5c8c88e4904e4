//! `ProducerRef`: the core [`Producer`] behind the JS `qmq.Producer`.
//!
//! Sends are Promises settled on napi's tokio runtime; a full queue makes a send wait for room
//! (back-pressure) instead of failing. `send_batch` queues many messages in one crossing of
//! the bridge, which is what makes Node throughput close to the Rust client's.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use qmq_core::client::{Client, Producer, SendReceipt};

use crate::errors;
use crate::message::{self, MessageInput};

/// The result of one send.
#[napi(object)]
pub struct Receipt {
    pub message_id: String,
    pub broker_group: String,
    pub attempts: u32,
}

impl From<SendReceipt> for Receipt {
    fn from(r: SendReceipt) -> Self {
        Self {
            message_id: r.message_id,
            broker_group: r.broker_group,
            attempts: r.attempts,
        }
    }
}

/// The results of a batch, as parallel arrays (much cheaper to cross the bridge than one
/// object per message): `message_ids[i]` is empty and `errors[i]` set when message `i` failed.
#[napi(object)]
pub struct BatchResult {
    pub message_ids: Vec<String>,
    pub broker_groups: Vec<String>,
    pub attempts: Vec<u32>,
    pub errors: Vec<Option<String>>,
}

/// The producer of one client.
#[napi]
pub struct ProducerRef {
    client: Client,
    producer: Producer,
}

impl ProducerRef {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            producer: client.producer(),
            client,
        }
    }

    fn check(&self) -> Result<()> {
        if self.client.is_closed() {
            return Err(errors::closed("producer"));
        }
        Ok(())
    }
}

#[napi]
impl ProducerRef {
    /// Sends one message; resolves with its receipt.
    #[napi]
    pub async fn send(&self, message: MessageInput) -> Result<Receipt> {
        self.check()?;
        let built = message::build(&self.producer, message).map_err(|e| errors::to_js(&e))?;
        let pending = self
            .producer
            .send_with_backpressure(built)
            .await
            .map_err(|e| errors::to_js(&e))?;
        pending
            .await
            .map(Receipt::from)
            .map_err(|e| errors::to_js(&e))
    }

    /// Sends many messages; resolves, in order, with a receipt or an error per message. Every
    /// message is built before any is queued (an invalid one rejects the whole batch).
    #[napi]
    pub async fn send_batch(&self, messages: Vec<MessageInput>) -> Result<BatchResult> {
        self.check()?;
        let built = messages
            .into_iter()
            .map(|m| message::build(&self.producer, m))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| errors::to_js(&e))?;
        let mut pending = Vec::with_capacity(built.len());
        for m in built {
            pending.push(self.producer.send_with_backpressure(m).await);
        }
        let n = pending.len();
        let mut out = BatchResult {
            message_ids: Vec::with_capacity(n),
            broker_groups: Vec::with_capacity(n),
            attempts: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
        };
        for p in pending {
            let r = match p {
                Ok(fut) => fut.await,
                Err(e) => Err(e),
            };
            match r {
                Ok(receipt) => {
                    out.message_ids.push(receipt.message_id);
                    out.broker_groups.push(receipt.broker_group);
                    out.attempts.push(receipt.attempts);
                    out.errors.push(None);
                }
                Err(e) => {
                    out.message_ids.push(String::new());
                    out.broker_groups.push(String::new());
                    out.attempts.push(0);
                    out.errors.push(Some(errors::to_js(&e).reason.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Waits up to `timeout_ms` until every accepted message has completed.
    #[napi]
    pub async fn flush(&self, timeout_ms: u32) -> Result<()> {
        self.producer
            .flush(Duration::from_millis(u64::from(timeout_ms)))
            .await
            .map_err(|e| errors::to_js(&e))
    }

    /// Messages accepted and not yet completed.
    #[napi(getter)]
    pub fn pending(&self) -> u32 {
        u32::try_from(self.producer.pending()).unwrap_or(u32::MAX)
    }

    /// Whether the client is closed.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.client.is_closed()
    }
}
