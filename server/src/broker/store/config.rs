//! Store configuration (the `[store]` section of the broker configuration).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::StoreError;

/// When appended messages are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum FlushPolicy {
    /// A background thread `fdatasync`s the message and action logs every `interval`; a crash of
    /// the machine (not just the process) can lose up to `interval` of acknowledged messages.
    Periodic {
        /// Time between flushes.
        #[serde(rename = "interval_ms", with = "duration_ms")]
        interval: Duration,
    },
    /// Every append is flushed before it returns, so a producer is answered only once its
    /// messages are durable. Concurrent appends share one flush.
    Sync,
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy::Periodic {
            interval: Duration::from_millis(500),
        }
    }
}

/// Sizes, durability and retention of the broker store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Bytes per message-log segment (QMQ: 1 GiB).
    pub message_segment_size: u64,
    /// Bytes per action-log segment (QMQ: 100 MiB).
    pub action_segment_size: u64,
    /// Units (22 bytes each) per consume-log segment (QMQ: 10,000,000).
    pub consume_log_units_per_segment: u64,
    /// Units (8 bytes each) per pull-log segment (QMQ: 10,000,000).
    pub pull_log_units_per_segment: u64,
    /// Flush policy of the message log.
    pub flush: FlushPolicy,
    /// Time between checkpoints.
    #[serde(rename = "checkpoint_interval_ms", with = "duration_ms")]
    pub checkpoint_interval: Duration,
    /// How long messages are kept (QMQ: 72 h).
    #[serde(rename = "retention_secs", with = "duration_secs")]
    pub retention: Duration,
    /// Time between retention passes.
    #[serde(rename = "retention_check_interval_ms", with = "duration_ms")]
    pub retention_check_interval: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            message_segment_size: 1 << 30,
            action_segment_size: 100 << 20,
            consume_log_units_per_segment: 10_000_000,
            pull_log_units_per_segment: 10_000_000,
            flush: FlushPolicy::default(),
            checkpoint_interval: Duration::from_secs(10),
            retention: Duration::from_secs(72 * 3600),
            retention_check_interval: Duration::from_secs(60),
        }
    }
}

impl StoreConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// [`StoreError::Config`] naming the first bad key.
    pub fn validate(&self) -> Result<(), StoreError> {
        let bad = |key, reason| Err(StoreError::Config { key, reason });
        if self.message_segment_size < 4096 {
            return bad("message_segment_size", "must be at least 4096");
        }
        if self.action_segment_size < 4096 {
            return bad("action_segment_size", "must be at least 4096");
        }
        if self.consume_log_units_per_segment == 0 {
            return bad("consume_log_units_per_segment", "must be positive");
        }
        if self.pull_log_units_per_segment == 0 {
            return bad("pull_log_units_per_segment", "must be positive");
        }
        if let FlushPolicy::Periodic { interval } = self.flush {
            if interval.is_zero() {
                return bad("flush.interval_ms", "must be positive");
            }
        }
        if self.checkpoint_interval.is_zero() {
            return bad("checkpoint_interval_ms", "must be positive");
        }
        if self.retention.is_zero() {
            return bad("retention_secs", "must be positive");
        }
        if self.retention_check_interval.is_zero() {
            return bad("retention_check_interval_ms", "must be positive");
        }
        Ok(())
    }
}

/// (De)serialises a `Duration` as whole milliseconds.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as milliseconds.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// Deserialises from milliseconds.
    ///
    /// # Errors
    /// Those of the deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// (De)serialises a `Duration` as whole seconds.
pub mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises as seconds.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    /// Deserialises from seconds.
    ///
    /// # Errors
    /// Those of the deserializer.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_roundtrip_through_toml() {
        let config = StoreConfig::default();
        config.validate().unwrap();
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("interval_ms = 500"), "{text}");
        assert_eq!(toml::from_str::<StoreConfig>(&text).unwrap(), config);
        let sync: StoreConfig = toml::from_str("[flush]\nmode = \"sync\"\n").unwrap();
        assert_eq!(sync.flush, FlushPolicy::Sync);
    }

    #[test]
    fn validate_names_the_key() {
        let config = StoreConfig {
            message_segment_size: 1,
            ..StoreConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("message_segment_size"), "{err}");
    }
}
