//! Epoch-millisecond time for the meta role, driven by tokio's monotonic clock.
//!
//! The wall clock is read once, when the clock is created; afterwards time advances with
//! `tokio::time::Instant`. So heartbeat timeouts never jump with wall-clock corrections, and
//! tests drive time with `tokio::time::pause` / `advance` instead of sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// A monotonic clock that reports epoch milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    anchor_ms: i64,
    anchor: Instant,
}

impl Clock {
    /// Anchors the clock at the current wall-clock time.
    pub(crate) fn new() -> Self {
        let anchor_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
        Self {
            anchor_ms,
            anchor: Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub(crate) fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.anchor.elapsed().as_millis()).unwrap_or(i64::MAX / 2);
        self.anchor_ms.saturating_add(elapsed)
    }
}
