//! The bench report: throughput and latency percentiles, as a table or one JSON line.
//!
//! Units: msgs/s and MB/s (10^6 bytes of message body per second) over the measured window;
//! latencies in milliseconds. A figure with no sample (e.g. no consumer) is `null` in JSON and
//! `-` in the table. The JSON keys `produce_msgs_per_sec`, `consume_msgs_per_sec`, `e2e_p50_ms`,
//! `e2e_p99_ms` and `e2e_p999_ms` are a stable interface for scripts.

use std::time::Duration;

use serde::Serialize;

use super::args::Settings;
use super::histogram::Histogram;
use super::stats::Stats;

/// Everything a run reports.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: Option<&'static str>,
    pub subject: String,
    pub producers: usize,
    pub consumers: usize,
    pub size: usize,
    /// Target total rate; `None` = unlimited.
    pub rate: Option<u64>,
    pub duration_s: f64,
    pub produce_msgs_per_sec: f64,
    pub produce_mb_per_sec: f64,
    pub consume_msgs_per_sec: f64,
    pub consume_mb_per_sec: f64,
    pub send_p50_ms: Option<f64>,
    pub send_p99_ms: Option<f64>,
    pub send_p999_ms: Option<f64>,
    pub send_max_ms: Option<f64>,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub e2e_p999_ms: Option<f64>,
    pub e2e_max_ms: Option<f64>,
    /// Messages sent in the window and stored.
    pub sent: u64,
    /// Of those, received by the consumers (duplicates included).
    pub received: u64,
    /// Sends that failed or were refused (warm-up included).
    pub send_failures: u64,
    /// Whether the consumers received everything sent in the window before the drain timeout.
    pub drained: bool,
}

fn ms(h: &Histogram, q: f64) -> Option<f64> {
    h.quantile(q).map(|us| us as f64 / 1000.0)
}

fn max_ms(h: &Histogram) -> Option<f64> {
    (h.count() > 0).then(|| h.max() as f64 / 1000.0)
}

impl Report {
    /// The report of a finished run whose window lasted `window`.
    pub fn new(settings: &Settings, stats: &Stats, window: Duration, drained: bool) -> Self {
        let secs = window.as_secs_f64().max(1e-9);
        let produce = stats.produced() as f64 / secs;
        let consume = stats.consumed() as f64 / secs;
        let mb = |rate: f64| rate * settings.size as f64 / 1e6;
        Self {
            scenario: settings.scenario,
            subject: settings.subject.clone(),
            producers: settings.producers,
            consumers: settings.consumers,
            size: settings.size,
            rate: settings.rate,
            duration_s: secs,
            produce_msgs_per_sec: produce,
            produce_mb_per_sec: mb(produce),
            consume_msgs_per_sec: consume,
            consume_mb_per_sec: mb(consume),
            send_p50_ms: ms(&stats.send_latency, 0.5),
            send_p99_ms: ms(&stats.send_latency, 0.99),
            send_p999_ms: ms(&stats.send_latency, 0.999),
            send_max_ms: max_ms(&stats.send_latency),
            e2e_p50_ms: ms(&stats.e2e_latency, 0.5),
            e2e_p99_ms: ms(&stats.e2e_latency, 0.99),
            e2e_p999_ms: ms(&stats.e2e_latency, 0.999),
            e2e_max_ms: max_ms(&stats.e2e_latency),
            sent: stats.sent_in_window(),
            received: stats.received_in_window(),
            send_failures: stats.send_failures(),
            drained,
        }
    }

    /// One JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A human-readable table.
    pub fn to_table(&self) -> String {
        let rate = self
            .rate
            .map_or_else(|| "unlimited".to_owned(), |r| format!("{r} msgs/s"));
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        let mut out = format!(
            "subject {}  producers {}  consumers {}  size {} B  rate {}  measured {:.2} s\n",
            self.subject, self.producers, self.consumers, self.size, rate, self.duration_s
        );
        out.push_str(&format!(
            "{:<9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "", "msgs/s", "MB/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
        ));
        out.push_str(&format!(
            "{:<9} {:>12.0} {:>9.2} {:>9} {:>9} {:>9} {:>9}\n",
            "produce",
            self.produce_msgs_per_sec,
            self.produce_mb_per_sec,
            opt(self.send_p50_ms),
            opt(self.send_p99_ms),
            opt(self.send_p999_ms),
            opt(self.send_max_ms),
        ));
        out.push_str(&format!(
            "{:<9} {:>12.0} {:>9.2} {:>9} {:>9} {:>9} {:>9}\n",
            "consume",
            self.consume_msgs_per_sec,
            self.consume_mb_per_sec,
            opt(self.e2e_p50_ms),
            opt(self.e2e_p99_ms),
            opt(self.e2e_p999_ms),
            opt(self.e2e_max_ms),
        ));
        out.push_str(&format!(
            "sent {}  received {}  send failures {}  drained {}\n\
             (produce latency: send call → stored; consume latency: send call → handler)",
            self.sent, self.received, self.send_failures, self.drained
        ));
        out
    }
}
