//! The listener API: a JS function as a core [`Handler`], and `SubscriptionRef`.
//!
//! The core runs handlers on its blocking pool. Each call hands a [`DeliveredRef`] to JS
//! through a `NonBlocking` threadsafe function (the JS thread is never blocked), and then
//! waits, on that blocking thread, for JS to complete the message: `index.js` awaits the user's
//! async handler and calls `complete()` on resolve and `complete(reason)` on reject. If JS can
//! no longer be reached, or the message is dropped uncompleted, the handler fails, so the
//! message is retried, never lost.

use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use napi::Status;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use qmq_core::client::consumer::host_outcome::wait_for_host;
use qmq_core::client::consumer::{Handler, HandlerError, Subscription};
use qmq_core::protocol::Message;

use crate::message::{Completion, DeliveredRef};

/// The JS handler: called with one `DeliveredRef`, its return value ignored.
pub(crate) type JsHandler =
    ThreadsafeFunction<DeliveredRef, Unknown<'static>, DeliveredRef, Status, false>;

/// The handler slot shared by the core handler and its `SubscriptionRef`; emptied on stop so
/// that the threadsafe function is released and no longer keeps the process alive.
type Slot = Arc<Mutex<Option<Arc<JsHandler>>>>;

fn js_handler(slot: Slot) -> Handler {
    Arc::new(move |message: &Message| {
        let tsfn = slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| HandlerError::new("the listener is stopped"))?;
        let (tx, rx) = channel();
        let delivered = DeliveredRef::new(Arc::new(message.clone()), Completion::Listener(tx));
        let status = tsfn.call(delivered, ThreadsafeFunctionCallMode::NonBlocking);
        drop(tsfn);
        if status != Status::Ok {
            return Err(HandlerError::new(format!(
                "cannot call the JS handler: {status}"
            )));
        }
        wait_for_host(&rx, || {
            slot.lock().unwrap_or_else(|e| e.into_inner()).is_none()
        })
    })
}

/// Wraps `callback` as a core handler; returns it with the slot to empty on stop.
pub(crate) fn handler_for(callback: JsHandler) -> (Handler, Slot) {
    let slot: Slot = Arc::new(Mutex::new(Some(Arc::new(callback))));
    (js_handler(slot.clone()), slot)
}

/// A running listener.
#[napi]
pub struct SubscriptionRef {
    sub: Subscription,
    slot: Slot,
}

impl SubscriptionRef {
    pub(crate) fn new(sub: Subscription, slot: Slot) -> Self {
        Self { sub, slot }
    }
}

#[napi]
impl SubscriptionRef {
    /// Stops pulling, lets running handlers finish (their JS Promises still settle, since this
    /// waits off the event loop) and flushes their acks, waiting up to `timeout_ms`. Resolves
    /// whether it fully stopped in time. Releases the JS handler.
    #[napi]
    pub async fn stop(&self, timeout_ms: u32) -> Result<bool> {
        self.sub.stop();
        let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms));
        while !self.sub.is_stopped() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        Ok(self.sub.is_stopped())
    }

    /// Whether the listener has fully stopped.
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.sub.is_stopped()
    }

    /// The subject consumed.
    #[napi(getter)]
    pub fn subject(&self) -> String {
        self.sub.subject().to_owned()
    }

    /// The consumer group on the wire (the client id for broadcast).
    #[napi(getter)]
    pub fn group(&self) -> String {
        self.sub.group().to_owned()
    }
}
