//! What a bench run counts: the measurement window, throughput counters and the two latency
//! histograms, shared by every producer callback and consumer handler.
//!
//! Time is microseconds on one monotonic clock (`base`), and producers and consumers live in
//! the same process, so the send timestamp a message carries can be compared with the
//! consumer's clock directly. Invariants: a message counts for *latency* when it was **sent**
//! inside the window (so warm-up messages never count, and messages drained after the window
//! do); it counts for *throughput* when its completion or receipt falls inside the window.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::histogram::Histogram;

/// The property carrying the send time (µs on the bench clock).
pub const SENT_AT_KEY: &str = "bench_sent_us";

/// Counters of one run.
#[derive(Debug)]
pub struct Stats {
    base: Instant,
    window_start: AtomicU64,
    window_end: AtomicU64,
    /// Send call → producer completion, for messages sent in the window.
    pub send_latency: Histogram,
    /// Send call → consumer handler, for messages sent in the window.
    pub e2e_latency: Histogram,
    produced: AtomicU64,
    consumed: AtomicU64,
    sent_in_window: AtomicU64,
    received_in_window: AtomicU64,
    send_failures: AtomicU64,
    received_any: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            window_start: AtomicU64::new(u64::MAX),
            window_end: AtomicU64::new(u64::MAX),
            send_latency: Histogram::default(),
            e2e_latency: Histogram::default(),
            produced: AtomicU64::new(0),
            consumed: AtomicU64::new(0),
            sent_in_window: AtomicU64::new(0),
            received_in_window: AtomicU64::new(0),
            send_failures: AtomicU64::new(0),
            received_any: AtomicU64::new(0),
        }
    }
}

impl Stats {
    /// Now, in µs on the bench clock.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn in_window(&self, t: u64) -> bool {
        t >= self.window_start.load(Ordering::Relaxed)
            && t < self.window_end.load(Ordering::Relaxed)
    }

    /// Opens the measurement window now.
    pub fn open_window(&self) {
        self.window_start.store(self.now_us(), Ordering::Relaxed);
    }

    /// Closes the window now and returns its length.
    pub fn close_window(&self) -> Duration {
        let end = self.now_us();
        self.window_end.store(end, Ordering::Relaxed);
        Duration::from_micros(end.saturating_sub(self.window_start.load(Ordering::Relaxed)))
    }

    /// A producer completion of a message sent at `sent_at`.
    pub fn on_send_done(&self, sent_at: u64, ok: bool) {
        if !ok {
            self.send_failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let now = self.now_us();
        if self.in_window(now) {
            self.produced.fetch_add(1, Ordering::Relaxed);
        }
        if self.in_window(sent_at) {
            self.sent_in_window.fetch_add(1, Ordering::Relaxed);
            self.send_latency.record(now.saturating_sub(sent_at));
        }
    }

    /// A send that was refused at once (queue full, closed producer).
    pub fn on_send_refused(&self) {
        self.send_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// A consumer received a message carrying `sent_at` (if it carries one).
    pub fn on_receive(&self, sent_at: Option<u64>) {
        let now = self.now_us();
        self.received_any.fetch_add(1, Ordering::Relaxed);
        if self.in_window(now) {
            self.consumed.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(sent_at) = sent_at.filter(|&s| self.in_window(s)) {
            self.received_in_window.fetch_add(1, Ordering::Relaxed);
            self.e2e_latency.record(now.saturating_sub(sent_at));
        }
    }

    /// Completions inside the window.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    /// Receipts inside the window.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Messages sent in the window and stored.
    pub fn sent_in_window(&self) -> u64 {
        self.sent_in_window.load(Ordering::Relaxed)
    }

    /// Messages sent in the window and received (duplicates included).
    pub fn received_in_window(&self) -> u64 {
        self.received_in_window.load(Ordering::Relaxed)
    }

    /// Sends that failed or were refused, at any time.
    pub fn send_failures(&self) -> u64 {
        self.send_failures.load(Ordering::Relaxed)
    }

    /// Messages received at any time.
    pub fn received_any(&self) -> u64 {
        self.received_any.load(Ordering::Relaxed)
    }
}
