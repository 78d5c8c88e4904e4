//! Store configuration (the `[store]` section of the broker configuration).

use std::time::Duration;

use super::error::StoreError;

/// When appended messages are forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// A background thread `fdatasync`s the message and action logs every `interval`; a crash of
    /// the machine (not just the process) can lose up to `interval` of acknowledged messages.
    Periodic {
        /// Time between flushes.
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
/// Built from the broker configuration (`BrokerConfig::store_config`).
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub checkpoint_interval: Duration,
    /// How long messages are kept (QMQ: 72 h).
    pub retention: Duration,
    /// Time between retention passes.
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
                return bad("flush_interval", "must be positive");
            }
        }
        if self.checkpoint_interval.is_zero() {
            return bad("checkpoint_interval", "must be positive");
        }
        if self.retention.is_zero() {
            return bad("retention", "must be positive");
        }
        if self.retention_check_interval.is_zero() {
            return bad("retention_check_interval", "must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        StoreConfig::default().validate().unwrap();
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
