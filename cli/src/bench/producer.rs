//! One bench producer: its own client, sending as fast as its window allows or on a token
//! schedule.
//!
//! Rate limiting is a schedule, not a sleep per message: message `i` is due at
//! `start + i / rate`; the loop sends every message that is due, then sleeps until the next
//! one is. A late loop catches up in a burst (bounded by the window) instead of drifting.
//! Invariants: at most `window` sends are in flight (each holds a semaphore permit until its
//! completion callback runs); [`BenchProducer::finish`] returns only once every send has
//! completed or its bound passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use qmq_core::client::producer::message::MAX_VALUE_LEN;
use qmq_core::client::{Client, Producer, SendResult};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::stats::{SENT_AT_KEY, Stats};
use crate::CLOSE_DEADLINE;

/// A running producer.
pub struct BenchProducer {
    client: Client,
    task: JoinHandle<()>,
}

/// What every producer of a run shares.
pub struct Plan {
    pub subject: String,
    pub body: Arc<str>,
    /// Messages per second for this producer; `None` = unlimited.
    pub rate: Option<f64>,
    pub window: usize,
    pub stats: Arc<Stats>,
    pub stop: Arc<AtomicBool>,
}

/// Sends between voluntary yields in unlimited mode, so the loop never starves other tasks.
const YIELD_EVERY: u64 = 256;

impl BenchProducer {
    /// Starts a producer on `client` (its own: closing it is this producer's job).
    pub fn start(client: Client, plan: Arc<Plan>) -> Self {
        let producer = client.producer();
        let task = tokio::spawn(run(producer, plan));
        Self { client, task }
    }

    /// Waits for the loop (after `plan.stop` was set) and its last completions, then closes the
    /// client.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.task.await.context("producer task failed")?;
        let _ = self.client.close_async(CLOSE_DEADLINE).await;
        Ok(())
    }
}

async fn run(producer: Producer, plan: Arc<Plan>) {
    let window = Arc::new(Semaphore::new(plan.window));
    let start = Instant::now();
    let mut sent: u64 = 0;
    while !plan.stop.load(Ordering::Relaxed) {
        if let Some(rate) = plan.rate {
            let due = start + Duration::from_secs_f64(sent as f64 / rate);
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
                continue;
            }
        } else if sent % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
        }
        let Ok(permit) = window.clone().acquire_owned().await else {
            break;
        };
        let mut message = match producer.generate_message(&plan.subject) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: cannot build a message: {e}");
                break;
            }
        };
        let body = if plan.body.len() > MAX_VALUE_LEN {
            message.set_large_string("body", &plan.body).map(drop)
        } else {
            message.set_property("body", &*plan.body).map(drop)
        };
        if let Err(e) = body {
            eprintln!("error: cannot set the body: {e}");
            break;
        }
        let stats = plan.stats.clone();
        let sent_at = stats.now_us();
        let _ = message.set_property(SENT_AT_KEY, sent_at.to_string());
        let callback = Box::new(move |result: SendResult| {
            stats.on_send_done(sent_at, result.is_ok());
            drop(permit);
        });
        if producer.send_with_callback(message, callback).is_err() {
            plan.stats.on_send_refused();
            tokio::task::yield_now().await;
        }
        sent += 1;
    }
    // Every completion returns its permit: holding them all means nothing is in flight.
    let all = u32::try_from(plan.window).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(CLOSE_DEADLINE * 2, window.acquire_many(all)).await;
}
