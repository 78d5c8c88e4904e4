//! Per-broker-group circuit breaker (spec §12, Java `qmq-common:broker/CircuitBreaker`).
//!
//! State machine, sans-IO: the caller passes the current [`Instant`] into every call, so tests
//! drive time explicitly and the producer can share one clock reading per batch.
//!
//! * **Closed**: requests flow; `failure_threshold` (100) *consecutive* failures open it, any
//!   success resets the count.
//! * **Open**: requests are refused until `open_for` (5 s) has passed since it opened; then it is
//!   half-open.
//! * **HalfOpen**: requests flow; `half_open_successes` (20) successes close it, any failure
//!   opens it again (and restarts the `open_for` wait).
//!
//! Not internally synchronised: a producer keeps one per broker group behind its own lock.

use std::time::{Duration, Instant};

/// Thresholds of a [`CircuitBreaker`]; `Default` holds QMQ's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker. Default 100.
    pub failure_threshold: u32,
    /// How long an open breaker refuses requests before going half-open. Default 5 s.
    pub open_for: Duration,
    /// Successes in half-open that close the breaker. Default 20.
    pub half_open_successes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 100,
            open_for: Duration::from_secs(5),
            half_open_successes: 20,
        }
    }
}

/// The observable state of a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Healthy: requests flow.
    Closed,
    /// Tripped: requests are refused.
    Open,
    /// Probing: requests flow, the next failure re-opens.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed { failures: u32 },
    Open { since: Instant },
    HalfOpen { successes: u32 },
}

/// A circuit breaker for one broker group.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Inner,
}

impl CircuitBreaker {
    /// A closed breaker. Thresholds of 0 are treated as 1.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                half_open_successes: config.half_open_successes.max(1),
                ..config
            },
            inner: Inner::Closed { failures: 0 },
        }
    }

    /// The state at `now` (an open breaker whose wait is over reports half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.inner {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { since }
                if now.saturating_duration_since(since) >= self.config.open_for =>
            {
                BreakerState::HalfOpen
            }
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a request may be sent at `now`; moves open → half-open when the wait is over.
    pub fn allow(&mut self, now: Instant) -> bool {
        self.advance(now);
        !matches!(self.inner, Inner::Open { .. })
    }

    /// Records a successful request.
    pub fn record_success(&mut self, now: Instant) {
        self.advance(now);
        self.inner = match self.inner {
            Inner::Closed { .. } => Inner::Closed { failures: 0 },
            Inner::HalfOpen { successes } if successes + 1 >= self.config.half_open_successes => {
                Inner::Closed { failures: 0 }
            }
            Inner::HalfOpen { successes } => Inner::HalfOpen {
                successes: successes + 1,
            },
            // A late success of a request sent before the breaker opened changes nothing.
            open @ Inner::Open { .. } => open,
        };
    }

    /// Records a failed request.
    pub fn record_failure(&mut self, now: Instant) {
        self.advance(now);
        self.inner = match self.inner {
            Inner::Closed { failures } if failures + 1 >= self.config.failure_threshold => {
                Inner::Open { since: now }
            }
            Inner::Closed { failures } => Inner::Closed {
                failures: failures + 1,
            },
            Inner::HalfOpen { .. } => Inner::Open { since: now },
            // Late failures do not extend the wait.
            open @ Inner::Open { .. } => open,
        };
    }

    fn advance(&mut self, now: Instant) {
        if self.state(now) == BreakerState::HalfOpen {
            if let Inner::Open { .. } = self.inner {
                self.inner = Inner::HalfOpen { successes: 0 };
            }
        }
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail_n(b: &mut CircuitBreaker, n: u32, now: Instant) {
        for _ in 0..n {
            b.record_failure(now);
        }
    }

    #[test]
    fn opens_after_100_consecutive_failures() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 99, t0);
        assert!(b.allow(t0));
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.record_failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.allow(t0));
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 99, t0);
        b.record_success(t0);
        fail_n(&mut b, 99, t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn open_turns_half_open_after_five_seconds() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 100, t0);
        let almost = t0 + Duration::from_millis(4999);
        assert!(!b.allow(almost));
        let later = t0 + Duration::from_secs(5);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert!(b.allow(later));
    }

    #[test]
    fn twenty_half_open_successes_close_it() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(5);
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 100, t0);
        for _ in 0..19 {
            assert!(b.allow(t1));
            b.record_success(t1);
        }
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        b.record_success(t1);
        assert_eq!(b.state(t1), BreakerState::Closed);
        // Closed again: needs a full 100 failures to reopen.
        fail_n(&mut b, 99, t1);
        assert!(b.allow(t1));
    }

    #[test]
    fn any_half_open_failure_reopens_and_restarts_the_wait() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(5);
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 100, t0);
        assert!(b.allow(t1));
        fail_n(&mut b, 1, t1); // 1 success short of nothing: a single failure suffices
        assert_eq!(b.state(t1), BreakerState::Open);
        assert!(!b.allow(t1 + Duration::from_millis(4999)));
        assert!(b.allow(t1 + Duration::from_secs(5)));
    }

    #[test]
    fn late_results_while_open_change_nothing() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::default();
        fail_n(&mut b, 100, t0);
        let t = t0 + Duration::from_secs(3);
        b.record_success(t);
        b.record_failure(t);
        assert_eq!(b.state(t), BreakerState::Open);
        assert_eq!(b.state(t0 + Duration::from_secs(5)), BreakerState::HalfOpen);
    }

    #[test]
    fn zero_thresholds_behave_as_one() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(BreakerConfig {
            failure_threshold: 0,
            open_for: Duration::ZERO,
            half_open_successes: 0,
        });
        b.record_failure(t0);
        assert_eq!(b.state(t0), BreakerState::HalfOpen);
        b.record_success(t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
    }
}
