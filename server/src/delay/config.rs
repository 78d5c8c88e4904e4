//! Settings of the delay role (`[delay]` section), with QMQ's defaults.
//!
//! Invariants worth naming:
//! - `Default` holds the documented defaults; `validate()` names the offending key.
//! - The bucket length cannot change once a data directory exists (the store refuses to open).

use serde::{Deserialize, Serialize};

use super::store::{BucketLayout, FlushPolicy, StoreConfig};
use crate::config::ConfigError;

/// Two years of 365 days, QMQ's maximum delay.
pub const TWO_YEARS_MS: i64 = 2 * 365 * 24 * 3_600_000;

/// Settings of the delay role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DelayConfig {
    /// TCP port for delay producers (QMQ: 20801).
    pub port: u16,
    /// Group name registered with meta (kind DELAY, role DELAY_MASTER).
    pub group_name: String,
    /// Time between BROKER_REGISTER heartbeats to meta, in ms (QMQ: 10 s).
    pub meta_heartbeat_ms: u64,
    /// How long a subject's broker route is reused before asking meta again, in ms (60 s).
    pub route_refresh_ms: u64,
    /// Bound on one SEND_MESSAGE to a broker or one request to meta, in ms (5 s).
    pub request_timeout_ms: u64,
    /// Length of a schedule-log bucket in ms (default one hour; at least one minute).
    pub bucket_len_ms: i64,
    /// Largest accepted delay in ms (default two years).
    pub max_delay_ms: i64,
    /// Longest the scheduler sleeps when nothing is due sooner, in ms (default 10).
    pub tick_ms: u64,
    /// Buckets starting within this many ms from now are loaded into memory (default 30 min).
    pub look_ahead_ms: i64,
    /// When the message log is fsynced (default every 100 ms).
    pub flush: FlushPolicy,
    /// Message-log segment size in bytes (default 256 MiB).
    pub wal_segment_bytes: u64,
    /// How long a fully dispatched bucket's files are kept after the bucket's end, in ms
    /// (default 24 h).
    pub retention_ms: i64,
    /// First retry delay after a failed dispatch, in ms, doubled per attempt (default 100).
    pub retry_backoff_ms: u64,
    /// Longest retry delay, in ms (default 10 s).
    pub retry_backoff_max_ms: u64,
    /// Most messages handed to the dispatcher per round (default 3000).
    pub dispatch_batch: usize,
    /// Schedule logs kept open for appends at once (default 64).
    pub max_open_schedule_logs: usize,
}

impl Default for DelayConfig {
    fn default() -> Self {
        let store = StoreConfig::default();
        Self {
            port: 20801,
            group_name: "delay-0".to_owned(),
            meta_heartbeat_ms: 10_000,
            route_refresh_ms: 60_000,
            request_timeout_ms: 5_000,
            bucket_len_ms: store.bucket_len_ms,
            max_delay_ms: TWO_YEARS_MS,
            tick_ms: 10,
            look_ahead_ms: 30 * 60_000,
            flush: store.flush,
            wal_segment_bytes: store.wal_segment_bytes,
            retention_ms: 24 * 3_600_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 10_000,
            dispatch_batch: 3000,
            max_open_schedule_logs: store.max_open_schedule_logs,
        }
    }
}

impl DelayConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key (`delay.<key>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |key: &str, reason: &str| Err(ConfigError::invalid(format!("delay.{key}"), reason));
        if !qmq_core::protocol::names::is_valid_name(&self.group_name) {
            return bad(
                "group_name",
                "must be a non-empty name without '/' or whitespace",
            );
        }
        for (key, v) in [
            ("meta_heartbeat_ms", self.meta_heartbeat_ms),
            ("route_refresh_ms", self.route_refresh_ms),
            ("request_timeout_ms", self.request_timeout_ms),
        ] {
            if v == 0 {
                return bad(key, "must be positive");
            }
        }
        if self.bucket_len_ms < BucketLayout::MIN_LEN_MS {
            return bad("bucket_len_ms", "must be at least 60000 (one minute)");
        }
        if self.max_delay_ms <= 0 || self.max_delay_ms > 100 * TWO_YEARS_MS {
            return bad("max_delay_ms", "must be positive and at most 200 years");
        }
        if self.tick_ms == 0 || self.tick_ms > 1_000 {
            return bad("tick_ms", "must be between 1 and 1000");
        }
        if self.look_ahead_ms < 0 {
            return bad("look_ahead_ms", "must not be negative");
        }
        if let FlushPolicy::Periodic { interval_ms: 0 } = self.flush {
            return bad("flush.interval_ms", "must be positive");
        }
        if self.wal_segment_bytes < 1024 * 1024 {
            return bad("wal_segment_bytes", "must be at least 1 MiB");
        }
        if self.retention_ms < 0 {
            return bad("retention_ms", "must not be negative");
        }
        if self.retry_backoff_ms == 0 || self.retry_backoff_max_ms < self.retry_backoff_ms {
            return bad(
                "retry_backoff_ms",
                "must be positive and at most retry_backoff_max_ms",
            );
        }
        if self.dispatch_batch == 0 {
            return bad("dispatch_batch", "must be positive");
        }
        if self.max_open_schedule_logs == 0 {
            return bad("max_open_schedule_logs", "must be positive");
        }
        Ok(())
    }

    /// Time between heartbeats to meta.
    pub fn meta_heartbeat_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.meta_heartbeat_ms)
    }

    /// The store settings this configuration implies.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            bucket_len_ms: self.bucket_len_ms,
            flush: self.flush,
            wal_segment_bytes: self.wal_segment_bytes,
            max_open_schedule_logs: self.max_open_schedule_logs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_qmq() {
        let c = DelayConfig::default();
        c.validate().expect("valid");
        assert_eq!(c.port, 20801);
        assert_eq!(c.bucket_len_ms, 3_600_000);
        assert_eq!(c.max_delay_ms, 63_072_000_000);
    }

    #[test]
    fn bad_values_name_their_key() {
        let c = DelayConfig {
            bucket_len_ms: 1000,
            ..DelayConfig::default()
        };
        assert!(matches!(
            c.validate(),
            Err(ConfigError::Invalid { key, .. }) if key == "delay.bucket_len_ms"
        ));
        let c = DelayConfig {
            tick_ms: 0,
            ..DelayConfig::default()
        };
        let e = c.validate().expect_err("bad");
        assert!(e.to_string().contains("delay.tick_ms"));
    }
}
