//! `ConsumerRef` (the core [`Consumer`]) and `PullConsumerRef` (a [`PullConsumer`]) behind the
//! JS `qmq.Consumer`.
//!
//! Pulls are Promises awaited on napi's tokio runtime (the core pull is runtime-agnostic and
//! cancel-safe); nothing blocks the event loop.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use qmq_core::client::Client;
use qmq_core::client::consumer::{ConsumeOptions, Consumer, PullConsumer};
use qmq_core::protocol::TagType;

use crate::errors;
use crate::listener::{JsHandler, SubscriptionRef, handler_for};
use crate::message::{Completion, DeliveredRef};

/// Consume options as `index.js` passes them.
#[napi(object)]
pub struct ConsumeOptionsInput {
    pub tags: Option<Vec<String>>,
    /// `"or"` (default) or `"and"`.
    pub tag_type: Option<String>,
    pub broadcast: Option<bool>,
    pub at_most_once: Option<bool>,
    pub max_retry: Option<u32>,
    pub concurrency: Option<u32>,
}

fn into_core(o: Option<ConsumeOptionsInput>) -> Result<ConsumeOptions> {
    let mut options = ConsumeOptions::default();
    let Some(o) = o else {
        return Ok(options);
    };
    options.tag_type = match o.tag_type.as_deref() {
        None | Some("or") => TagType::Or,
        Some("and") => TagType::And,
        Some(other) => {
            return Err(errors::qmq_error(
                "InvalidArgumentError",
                "Config",
                false,
                &format!("tagType must be 'or' or 'and', not {other:?}"),
            ));
        }
    };
    options.tags = o.tags.unwrap_or_default();
    options.broadcast = o.broadcast.unwrap_or(false);
    options.at_most_once = o.at_most_once.unwrap_or(false);
    options.max_retry = o.max_retry;
    if let Some(c) = o.concurrency {
        options.concurrency = c as usize;
    }
    Ok(options)
}

/// The consumer of one client.
#[napi]
pub struct ConsumerRef {
    client: Client,
    consumer: Consumer,
}

impl ConsumerRef {
    pub(crate) fn new(client: Client, consumer: Consumer) -> Self {
        Self { client, consumer }
    }

    fn check(&self) -> Result<()> {
        if self.client.is_closed() {
            return Err(errors::closed("consumer"));
        }
        Ok(())
    }
}

#[napi]
impl ConsumerRef {
    /// Starts consuming `subject` as `group` for explicit pulls.
    #[napi]
    pub fn pull_consumer(
        &self,
        subject: String,
        group: String,
        options: Option<ConsumeOptionsInput>,
    ) -> Result<PullConsumerRef> {
        self.check()?;
        let pc = self
            .consumer
            .pull_consumer(&subject, &group, into_core(options)?)
            .map_err(|e| errors::to_js(&e))?;
        Ok(PullConsumerRef { pc: Arc::new(pc) })
    }

    /// Starts a listener: `handler(DeliveredRef)` is called on the JS thread for each message;
    /// the message's outcome is whatever the handler later passes to `complete`.
    #[napi(
        ts_args_type = "subject: string, group: string, options: ConsumeOptionsInput | undefined | null, handler: (message: DeliveredRef) => void"
    )]
    pub fn subscribe(
        &self,
        subject: String,
        group: String,
        options: Option<ConsumeOptionsInput>,
        handler: JsHandler,
    ) -> Result<SubscriptionRef> {
        self.check()?;
        let (handler, slot) = handler_for(handler);
        let sub = self
            .consumer
            .subscribe(&subject, &group, into_core(options)?, handler)
            .map_err(|e| errors::to_js(&e))?;
        Ok(SubscriptionRef::new(sub, slot))
    }
}

/// A subscription consumed by explicit pulls.
#[napi]
pub struct PullConsumerRef {
    pc: Arc<PullConsumer>,
}

#[napi]
impl PullConsumerRef {
    /// Resolves when `max` messages arrived or `timeout_ms` passed, with what arrived
    /// (possibly nothing).
    #[napi]
    pub async fn pull(&self, max: u32, timeout_ms: u32) -> Result<Vec<DeliveredRef>> {
        let got = self
            .pc
            .pull(max as usize, Duration::from_millis(u64::from(timeout_ms)))
            .await
            .map_err(|e| errors::to_js(&e))?;
        Ok(got
            .into_iter()
            .map(|d| {
                let (message, ack) = d.into_parts();
                DeliveredRef::new(message, Completion::Ack(ack))
            })
            .collect())
    }

    /// The subject consumed.
    #[napi(getter)]
    pub fn subject(&self) -> String {
        self.pc.subject().to_owned()
    }

    /// The consumer group on the wire (the client id for broadcast).
    #[napi(getter)]
    pub fn group(&self) -> String {
        self.pc.group().to_owned()
    }

    /// Stops pulling and flushes the acks sent so far. Idempotent.
    #[napi]
    pub async fn close(&self) -> Result<()> {
        self.pc.close().await;
        Ok(())
    }
}
