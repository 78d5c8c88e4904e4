//! `qmq bench` arguments, scenario presets, and the settings they resolve to.
//!
//! Invariant: [`BenchArgs::resolve`] is the only place defaults and presets meet; an explicit
//! flag always wins over a `--scenario` preset.

use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};

use crate::time_arg::parse_duration;

/// Arguments of `qmq bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A named preset: `throughput` (unlimited rate) or `latency` (10 000 msgs/s).
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// How long to measure, after the warm-up.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up before measuring (excluded from every figure).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// Body bytes per message.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Producers (each its own client).
    #[arg(long, default_value_t = 1)]
    producers: usize,
    /// Consumers (each its own client, one consumer group).
    #[arg(long, default_value_t = 1)]
    consumers: usize,
    /// Total messages per second over all producers; 0 or absent = unlimited.
    #[arg(long)]
    rate: Option<u64>,
    /// Handlers running at once per consumer.
    #[arg(long, default_value_t = 16)]
    consumer_concurrency: usize,
    /// Sends in flight per producer (bounded by the producer's queue).
    #[arg(long, default_value_t = 8192)]
    window: usize,
    /// Runtime worker threads per client (default: the client's, min(CPUs, 4)).
    #[arg(long)]
    client_threads: Option<usize>,
    /// After measuring, how long to wait for consumers to drain.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Subject to use; default a fresh `qmq.bench.<pid>.<ms>` per run.
    #[arg(long)]
    subject: Option<String>,
    /// Print the report as one JSON line.
    #[arg(long)]
    json: bool,
}

/// Named presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Unlimited rate: how many messages per second get through.
    Throughput,
    /// 10 000 msgs/s: latency percentiles under a steady load.
    Latency,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Throughput => "throughput",
            Self::Latency => "latency",
        }
    }
}

/// What one bench run does.
#[derive(Debug, Clone)]
pub struct Settings {
    pub scenario: Option<&'static str>,
    pub duration: Duration,
    pub warmup: Duration,
    pub size: usize,
    pub producers: usize,
    pub consumers: usize,
    /// Total messages per second; `None` = unlimited.
    pub rate: Option<u64>,
    pub consumer_concurrency: usize,
    pub window: usize,
    pub drain_timeout: Duration,
    pub client_threads: Option<usize>,
    pub subject: String,
    pub json: bool,
}

/// The producer queue's capacity (`ProducerConfig::queue_capacity` default).
const MAX_WINDOW: usize = 10_000;

impl BenchArgs {
    /// Applies the preset and checks the values.
    ///
    /// # Errors
    /// A message naming the flag at fault.
    pub fn resolve(self) -> anyhow::Result<Settings> {
        if self.duration.is_zero() {
            bail!("--duration must be positive");
        }
        if !(1..=256).contains(&self.producers) {
            bail!("--producers must be in 1..=256, got {}", self.producers);
        }
        if self.consumers > 256 {
            bail!("--consumers must be in 0..=256, got {}", self.consumers);
        }
        if !(1..=10_000).contains(&self.consumer_concurrency) {
            bail!("--consumer-concurrency must be in 1..=10000");
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            bail!("--window must be in 1..={MAX_WINDOW}");
        }
        if self.client_threads.is_some_and(|n| !(1..=256).contains(&n)) {
            bail!("--client-threads must be in 1..=256");
        }
        if self.size > 4 * 1024 * 1024 {
            bail!("--size must be at most 4 MiB, got {}", self.size);
        }
        let preset_rate = match self.scenario {
            Some(Scenario::Latency) => Some(10_000),
            Some(Scenario::Throughput) | None => None,
        };
        let rate = match self.rate {
            Some(0) => None,
            Some(r) => Some(r),
            None => preset_rate,
        };
        let subject = self.subject.unwrap_or_else(|| {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("qmq.bench.{}.{ms}", std::process::id())
        });
        Ok(Settings {
            scenario: self.scenario.map(Scenario::name),
            duration: self.duration,
            warmup: self.warmup,
            size: self.size,
            producers: self.producers,
            consumers: self.consumers,
            rate,
            consumer_concurrency: self.consumer_concurrency,
            window: self.window,
            drain_timeout: self.drain_timeout,
            client_threads: self.client_threads,
            subject,
            json: self.json,
        })
    }
}
