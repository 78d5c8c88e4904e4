//! Per-message completion: a future's oneshot or a host callback, fired exactly once.
//!
//! Invariants:
//! * a [`Completer`] fires at most once ([`Completer::complete`] consumes it) and at least once:
//!   dropping it unfired — a cancelled task, a runtime shutdown, a closed queue — reports
//!   [`ClientError::ProducerClosed`];
//! * it releases its slot in the producer queue ([`Gate`]) *after* firing, so when `flush`
//!   returns every completion of the flushed messages has run;
//! * a panicking host callback is caught and logged; it cannot take down the task that fired it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::queue::Gate;
use crate::client::error::ClientError;

/// What a successful send reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The message id.
    pub message_id: String,
    /// The broker (or delay-server) group that stored the message.
    pub broker_group: String,
    /// How many attempts it took (1 = first try).
    pub attempts: u32,
}

/// The result of one send.
pub type SendResult = Result<SendReceipt, ClientError>;

/// A host callback for [`Producer::send_with_callback`](super::Producer::send_with_callback).
pub type SendCallback = Box<dyn FnOnce(SendResult) + Send + 'static>;

pub(crate) enum Notify {
    Future(oneshot::Sender<SendResult>),
    Callback(SendCallback),
}

impl Notify {
    fn fire(self, result: SendResult) {
        match self {
            // The receiver may be gone (the caller dropped the future): nothing to do then.
            Self::Future(tx) => drop(tx.send(result)),
            Self::Callback(cb) => {
                if catch_unwind(AssertUnwindSafe(|| cb(result))).is_err() {
                    tracing::error!("send callback panicked");
                }
            }
        }
    }
}

/// Completes one message exactly once.
pub(crate) struct Completer {
    notify: Option<Notify>,
    gate: Arc<Gate>,
}

impl Completer {
    /// A completer holding one admitted slot of `gate`.
    pub(crate) fn new(notify: Notify, gate: Arc<Gate>) -> Self {
        Self {
            notify: Some(notify),
            gate,
        }
    }

    /// Fires the completion and frees the queue slot.
    pub(crate) fn complete(mut self, result: SendResult) {
        if let Some(notify) = self.notify.take() {
            notify.fire(result);
            self.gate.release();
        }
    }

    /// Frees the queue slot without firing, handing the notification back (for a message the
    /// producer never accepted).
    pub(crate) fn disarm(mut self) -> Option<Notify> {
        let notify = self.notify.take();
        if notify.is_some() {
            self.gate.release();
        }
        notify
    }
}

impl Drop for Completer {
    fn drop(&mut self) {
        if let Some(notify) = self.notify.take() {
            notify.fire(Err(ClientError::ProducerClosed));
            self.gate.release();
        }
    }
}

/// The future returned by [`Producer::send`](super::Producer::send). The message was queued
/// when `send` returned; dropping this future does not cancel it.
#[must_use = "the send result is only known by awaiting the future"]
#[derive(Debug)]
pub struct SendFuture {
    state: State,
}

#[derive(Debug)]
enum State {
    Ready(Option<ClientError>),
    Waiting(oneshot::Receiver<SendResult>),
}

impl SendFuture {
    pub(crate) fn failed(err: ClientError) -> Self {
        Self {
            state: State::Ready(Some(err)),
        }
    }

    pub(crate) fn waiting(rx: oneshot::Receiver<SendResult>) -> Self {
        Self {
            state: State::Waiting(rx),
        }
    }
}

impl Future for SendFuture {
    type Output = SendResult;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SendResult> {
        match &mut self.get_mut().state {
            State::Ready(err) => {
                Poll::Ready(Err(err.take().unwrap_or(ClientError::ProducerClosed)))
            }
            State::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(ClientError::ProducerClosed))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn gate() -> Arc<Gate> {
        let g = Arc::new(Gate::new(4));
        g.try_admit().unwrap();
        g
    }

    #[test]
    fn a_dropped_completer_reports_closed_once_and_frees_its_slot() {
        let g = gate();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let c = Completer::new(
            Notify::Callback(Box::new(move |r| s.lock().unwrap().push(r.is_err()))),
            g.clone(),
        );
        assert_eq!(g.pending(), 1);
        drop(c);
        assert_eq!(*seen.lock().unwrap(), vec![true]);
        assert_eq!(g.pending(), 0);
    }

    #[test]
    fn complete_fires_once_and_a_panicking_callback_is_contained() {
        let g = gate();
        let c = Completer::new(
            Notify::Callback(Box::new(|_| panic!("host bug"))),
            g.clone(),
        );
        c.complete(Err(ClientError::ProducerClosed));
        assert_eq!(g.pending(), 0);
    }

    #[tokio::test]
    async fn future_sees_the_result_or_closed() {
        let g = gate();
        let (tx, rx) = oneshot::channel();
        let c = Completer::new(Notify::Future(tx), g.clone());
        c.complete(Ok(SendReceipt {
            message_id: "m".into(),
            broker_group: "g".into(),
            attempts: 1,
        }));
        assert_eq!(SendFuture::waiting(rx).await.unwrap().broker_group, "g");
        g.try_admit().unwrap();
        let (tx, rx) = oneshot::channel();
        drop(Completer::new(Notify::Future(tx), g.clone()));
        assert!(matches!(
            SendFuture::waiting(rx).await,
            Err(ClientError::ProducerClosed)
        ));
        let disarmed = {
            g.try_admit().unwrap();
            let (tx, _rx) = oneshot::channel();
            Completer::new(Notify::Future(tx), g.clone()).disarm()
        };
        assert!(disarmed.is_some());
        assert_eq!(g.pending(), 0);
    }
}
