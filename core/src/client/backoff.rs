//! Retry backoff for the producer's send retries: exponential growth, a cap, and jitter.
//!
//! `delay(attempt)` for attempt `n` (1 = the first *retry*) is
//! `min(initial × multiplier^(n-1), max) × (1 − jitter × u)` with `u` uniform in `[0, 1)`,
//! so jitter only ever shortens a delay and the cap is never exceeded. Attempt 0 means
//! "no wait". All arithmetic saturates: huge attempt numbers give `max`, never a panic.

use std::time::Duration;

use super::config::ConfigError;

/// An exponential backoff policy with a cap and proportional jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
    jitter: f64,
}

impl Default for Backoff {
    /// 100 ms doubling up to 5 s, with 20 % jitter.
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(5),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// A policy; `key` names the configuration entry in errors (e.g. `producer.backoff`).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] if `initial > max`, `multiplier` is not a finite number ≥ 1, or
    /// `jitter` is not in `[0, 1]`.
    pub fn new(
        initial: Duration,
        max: Duration,
        multiplier: f64,
        jitter: f64,
    ) -> Result<Self, ConfigError> {
        let backoff = Self {
            initial,
            max,
            multiplier,
            jitter,
        };
        backoff.validate("backoff")?;
        Ok(backoff)
    }

    /// A fixed delay with no growth and no jitter.
    pub fn constant(delay: Duration) -> Self {
        Self {
            initial: delay,
            max: delay,
            multiplier: 1.0,
            jitter: 0.0,
        }
    }

    /// Checks the invariants listed on [`Backoff::new`]; `key` prefixes the key in the error.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `<key>.initial`, `<key>.multiplier` or `<key>.jitter`.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        if self.initial > self.max {
            return Err(ConfigError::invalid(
                format!("{key}.initial"),
                format!("{:?} > max {:?}", self.initial, self.max),
            ));
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(ConfigError::invalid(
                format!("{key}.multiplier"),
                format!("{} is not a finite number >= 1", self.multiplier),
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ConfigError::invalid(
                format!("{key}.jitter"),
                format!("{} is not in [0, 1]", self.jitter),
            ));
        }
        Ok(())
    }

    /// The first retry's delay before jitter.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The cap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay before retry `attempt` (1-based), without jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        if attempt == 0 {
            return Duration::ZERO;
        }
        let exponent = i32::try_from(attempt - 1).unwrap_or(i32::MAX);
        let secs = self.initial.as_secs_f64() * self.multiplier.powi(exponent);
        let max = self.max.as_secs_f64();
        if !secs.is_finite() || secs >= max {
            self.max
        } else {
            Duration::try_from_secs_f64(secs).unwrap_or(self.max)
        }
    }

    /// The delay before retry `attempt` (1-based) with random jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, fastrand::f64())
    }

    /// The delay before retry `attempt` with jitter drawn as `unit` in `[0, 1)` (values outside
    /// are clamped); deterministic, for tests and for callers with their own randomness.
    pub fn delay_with(&self, attempt: u32, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.base_delay(attempt)
            .mul_f64((1.0 - self.jitter * unit).clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let b = Backoff::new(MS(100), MS(1000), 2.0, 0.0).unwrap();
        let got: Vec<_> = (0..7).map(|a| b.delay(a)).collect();
        assert_eq!(
            got,
            [
                MS(0),
                MS(100),
                MS(200),
                MS(400),
                MS(800),
                MS(1000),
                MS(1000)
            ]
        );
    }

    #[test]
    fn huge_attempts_saturate_at_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.base_delay(u32::MAX), b.max());
        assert_eq!(b.delay_with(10_000, 0.0), b.max());
    }

    #[test]
    fn jitter_only_shortens_within_its_fraction() {
        let b = Backoff::new(MS(1000), MS(1000), 1.0, 0.25).unwrap();
        assert_eq!(b.delay_with(1, 0.0), MS(1000));
        assert_eq!(b.delay_with(1, 1.0), MS(750));
        assert_eq!(b.delay_with(1, f64::NAN), MS(1000));
        for _ in 0..1000 {
            let d = b.delay(1);
            assert!(d > MS(749) && d <= MS(1000), "{d:?}");
        }
    }

    #[test]
    fn constant_never_changes() {
        let b = Backoff::constant(MS(50));
        assert!((1..50).all(|a| b.delay(a) == MS(50)));
    }

    #[test]
    fn invalid_policies_name_the_key() {
        let e = Backoff::new(MS(10), MS(1), 2.0, 0.0).unwrap_err();
        assert_eq!(e.key(), "backoff.initial");
        let e = Backoff::new(MS(1), MS(10), 0.5, 0.0).unwrap_err();
        assert_eq!(e.key(), "backoff.multiplier");
        let e = Backoff::new(MS(1), MS(10), f64::INFINITY, 0.0).unwrap_err();
        assert_eq!(e.key(), "backoff.multiplier");
        let e = Backoff::new(MS(1), MS(10), 2.0, 1.5).unwrap_err();
        assert_eq!(e.key(), "backoff.jitter");
    }
}
