//! `qmq bench`: N producers and M consumers (one consumer group) on a fresh subject, a warm-up,
//! a measured window, then a bounded drain; reports produce and consume msgs/s and MB/s, send
//! latency and end-to-end latency percentiles.
//!
//! Files: `args` (flags, presets), `producer` (send loop with a token schedule), `consumer`
//! (listener), `stats` (window and counters), `histogram` (log-bucketed percentiles),
//! `report` (table / JSON).
//!
//! Invariants: consumers subscribe before any message is sent; the window opens only after the
//! warm-up *and* a first consumed message (bounded), so connection set-up and the group's
//! creation are never measured; every client is closed before the report is printed.

pub mod args;
mod consumer;
mod histogram;
mod producer;
mod report;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use qmq_core::client::ClientConfig;

use self::args::BenchArgs;
use self::consumer::BenchConsumer;
use self::producer::{BenchProducer, Plan};
use self::report::Report;
use self::stats::Stats;
use crate::Common;

/// Longest wait, after the warm-up, for the first consumed message.
const FIRST_MESSAGE_BOUND: Duration = Duration::from_secs(15);
/// Poll interval while waiting on counters.
const POLL: Duration = Duration::from_millis(10);

/// Runs `qmq bench`.
///
/// # Errors
/// Bad arguments, clients that cannot start, or no message consumed during the warm-up.
pub async fn run(common: &Common, args: BenchArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    let stats = Arc::new(Stats::default());
    let threads = settings.client_threads;
    let tuned = move |config: &mut ClientConfig| {
        if let Some(n) = threads {
            config.runtime.worker_threads = n;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));

    let mut consumers = Vec::with_capacity(settings.consumers);
    for _ in 0..settings.consumers {
        consumers.push(BenchConsumer::start(
            common.client_with(tuned)?,
            &settings.subject,
            settings.consumer_concurrency,
            stats.clone(),
        )?);
    }
    let plan = Arc::new(Plan {
        subject: settings.subject.clone(),
        body: "x".repeat(settings.size).into(),
        rate: settings.rate.map(|r| r as f64 / settings.producers as f64),
        window: settings.window,
        stats: stats.clone(),
        stop: stop.clone(),
    });
    let mut producers = Vec::with_capacity(settings.producers);
    for _ in 0..settings.producers {
        producers.push(BenchProducer::start(
            common.client_with(tuned)?,
            plan.clone(),
        ));
    }

    tokio::time::sleep(settings.warmup).await;
    if settings.consumers > 0 && !wait_for(FIRST_MESSAGE_BOUND, || stats.received_any() > 0).await {
        stop.store(true, Ordering::Relaxed);
        bail!(
            "no message was consumed within {:?} of the warm-up (sent {}, failed {}); is {} reachable?",
            settings.warmup + FIRST_MESSAGE_BOUND,
            stats.sent_in_window(),
            stats.send_failures(),
            common.meta
        );
    }
    stats.open_window();
    tokio::time::sleep(settings.duration).await;
    let window = stats.close_window();
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        p.finish().await?;
    }
    let drained = settings.consumers == 0
        || wait_for(settings.drain_timeout, || {
            stats.received_in_window() >= stats.sent_in_window()
        })
        .await;
    for c in consumers {
        c.stop().await;
    }
    let report = Report::new(&settings, &stats, window, drained);
    if settings.json {
        println!("{}", report.to_json_line());
    } else {
        println!("{}", report.to_table());
    }
    Ok(())
}

/// Polls `done` until it holds or `bound` passes; whether it held.
async fn wait_for(bound: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}
