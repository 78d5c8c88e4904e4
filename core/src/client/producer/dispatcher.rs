//! The dispatcher task: drains the producer's queue into per-route batches and starts one
//! sender task per batch, at most [`MAX_IN_FLIGHT_BATCHES`] requests outstanding at once.
//!
//! Batching follows load: the dispatcher takes an in-flight permit *before* cutting a batch,
//! so while every permit is busy messages accumulate and the next batches are full (≤ 30),
//! and when the producer is idle a lone message leaves at once.
//!
//! Invariants: every envelope received is handed to exactly one sender task or dropped with
//! the dispatcher (its completer then reports [`ClientError::ProducerClosed`]); the task ends
//! on client shutdown, or when every `Producer` is gone and the queue is drained.
//!
//! [`ClientError::ProducerClosed`]: crate::client::ClientError::ProducerClosed

use std::sync::Arc;

use tokio::sync::mpsc;

use super::Core;
use super::batch::{Batcher, Envelope};
use super::sender::run_batch;

/// Requests (batches) outstanding at once per producer, across brokers.
pub const MAX_IN_FLIGHT_BATCHES: usize = 128;

/// Envelopes pulled from the queue per turn before a batch is cut.
const DRAIN_PER_TURN: usize = 4096;

pub(crate) async fn run(core: Arc<Core>, mut rx: mpsc::UnboundedReceiver<Envelope>) {
    let shutdown = core.shared.shutdown.clone();
    let mut batcher = Batcher::default();
    let mut open = true;
    loop {
        if batcher.is_empty() {
            if !open {
                return;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                next = rx.recv() => match next {
                    Some(env) => batcher.push(env),
                    None => return,
                },
            }
        }
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return,
            p = core.in_flight.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        while open && batcher.len() < DRAIN_PER_TURN {
            match rx.try_recv() {
                Ok(env) => batcher.push(env),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => open = false,
            }
        }
        if let Some((key, batch)) = batcher.next_batch(core.config.batch_size) {
            tokio::spawn(run_batch(core.clone(), key, batch, permit));
        }
    }
}
