//! A small lock-free, log-bucketed latency histogram (HDR-like), in microseconds.
//!
//! Layout: values below 128 µs have a bucket each; above, every power of two is split into 64
//! buckets, so a reported percentile is within 1/128 (0.8 %) of the true value. Recording is
//! one bucket computation and two relaxed atomic adds, so producers' callbacks and consumers'
//! handlers on many threads share one histogram without a lock.
//!
//! Invariant: `count` equals the sum of the buckets once recording has stopped.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a power of two.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for any `u64`.
const BUCKETS: usize = ((64 - SUB_BITS) as usize + 1) * SUB as usize;

/// A histogram of microsecond values.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("max", &self.max())
            .finish()
    }
}

fn index_of(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    (shift as u64 * SUB + (v >> shift)) as usize
}

/// The middle of bucket `index`.
fn value_of(index: usize) -> u64 {
    let index = index as u64;
    if index < 2 * SUB {
        return index;
    }
    let shift = index / SUB - 1;
    let mantissa = index - shift * SUB;
    (mantissa << shift) + (1u64 << shift) / 2
}

impl Histogram {
    /// Records one value.
    pub fn record(&self, micros: u64) {
        self.buckets[index_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(micros, Ordering::Relaxed);
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The largest value recorded (exact), 0 if none.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0..=1), `None` if nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        // The rank of the q-quantile, 1-based: the smallest value with at least q of all
        // values at or below it.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (index, &n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(value_of(index).min(self.max()));
            }
        }
        Some(self.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_within_one_percent() {
        let mut last = 0;
        for v in (0..1_000_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = index_of(v);
            assert!(i == last || i == last + 1 || v > 1_000_000, "gap at {v}");
            assert!(i < BUCKETS);
            last = i;
            let mid = value_of(i);
            let err = mid.abs_diff(v) as f64 / v.max(1) as f64;
            assert!(err <= 1.0 / 128.0 + 1e-9, "{v} → {mid}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_range() {
        let h = Histogram::default();
        for v in 1..=10_000 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.max(), 10_000);
        let near = |got: Option<u64>, want: f64| {
            let got = got.unwrap() as f64;
            assert!((got - want).abs() / want < 0.01, "{got} vs {want}");
        };
        near(h.quantile(0.5), 5000.0);
        near(h.quantile(0.99), 9900.0);
        near(h.quantile(0.999), 9990.0);
        assert_eq!(h.quantile(1.0), Some(10_000));
        assert_eq!(Histogram::default().quantile(0.5), None);
    }
}
