//! The `[broker]` section of the server configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::store::{FlushPolicy, StoreConfig};
use crate::config::ConfigError;

/// How the message log reaches the disk (`broker.flush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushMode {
    /// Flushed every `flush_interval_ms` by a background thread (default).
    #[default]
    Periodic,
    /// Flushed before each SEND is answered.
    Sync,
}

/// Broker settings with QMQ's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// TCP port for producers and consumers (QMQ: 20881).
    pub port: u16,
    /// Broker group name reported to meta.
    pub group_name: String,
    /// `periodic` or `sync`.
    pub flush: FlushMode,
    /// Flush interval in `periodic` mode, ms.
    pub flush_interval_ms: u64,
    /// Message-log segment size in bytes (QMQ: 1 GiB).
    pub message_segment_bytes: u64,
    /// Action-log segment size in bytes (QMQ: 100 MiB).
    pub action_segment_bytes: u64,
    /// Units per consume-log segment.
    pub consume_log_units_per_segment: u64,
    /// Units per pull-log segment.
    pub pull_log_units_per_segment: u64,
    /// Messages of a retry subject are held back this long after being stored, ms (QMQ: 5 s).
    pub retry_delay_ms: u64,
    /// How long messages are kept, hours (QMQ: 72).
    pub retention_hours: u64,
    /// Time between retention passes, ms.
    pub retention_check_interval_ms: u64,
    /// Time between checkpoints, ms (QMQ: 10 s).
    pub checkpoint_interval_ms: u64,
    /// Time between BROKER_REGISTER heartbeats to meta, ms (QMQ: 10 s).
    pub meta_heartbeat_interval_ms: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        let store = StoreConfig::default();
        BrokerConfig {
            port: 20881,
            group_name: "broker-0".to_owned(),
            flush: FlushMode::Periodic,
            flush_interval_ms: 500,
            message_segment_bytes: store.message_segment_size,
            action_segment_bytes: store.action_segment_size,
            consume_log_units_per_segment: store.consume_log_units_per_segment,
            pull_log_units_per_segment: store.pull_log_units_per_segment,
            retry_delay_ms: 5_000,
            retention_hours: 72,
            retention_check_interval_ms: 60_000,
            checkpoint_interval_ms: 10_000,
            meta_heartbeat_interval_ms: 10_000,
        }
    }
}

impl BrokerConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key (`broker.<key>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("broker.flush_interval_ms", self.flush_interval_ms),
            ("broker.retention_hours", self.retention_hours),
            (
                "broker.retention_check_interval_ms",
                self.retention_check_interval_ms,
            ),
            ("broker.checkpoint_interval_ms", self.checkpoint_interval_ms),
            (
                "broker.meta_heartbeat_interval_ms",
                self.meta_heartbeat_interval_ms,
            ),
            (
                "broker.consume_log_units_per_segment",
                self.consume_log_units_per_segment,
            ),
            (
                "broker.pull_log_units_per_segment",
                self.pull_log_units_per_segment,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be positive"));
            }
        }
        if self.group_name.is_empty() || !qmq_core::protocol::names::is_valid_name(&self.group_name)
        {
            return Err(ConfigError::invalid(
                "broker.group_name",
                "must be non-empty without '/' or whitespace",
            ));
        }
        for (key, value) in [
            ("broker.message_segment_bytes", self.message_segment_bytes),
            ("broker.action_segment_bytes", self.action_segment_bytes),
        ] {
            if value < 64 * 1024 {
                return Err(ConfigError::invalid(key, "must be at least 65536"));
            }
        }
        Ok(())
    }

    /// The store settings these values describe.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            message_segment_size: self.message_segment_bytes,
            action_segment_size: self.action_segment_bytes,
            consume_log_units_per_segment: self.consume_log_units_per_segment,
            pull_log_units_per_segment: self.pull_log_units_per_segment,
            flush: match self.flush {
                FlushMode::Periodic => FlushPolicy::Periodic {
                    interval: Duration::from_millis(self.flush_interval_ms),
                },
                FlushMode::Sync => FlushPolicy::Sync,
            },
            checkpoint_interval: Duration::from_millis(self.checkpoint_interval_ms),
            retention: Duration::from_secs(self.retention_hours.saturating_mul(3600)),
            retention_check_interval: Duration::from_millis(self.retention_check_interval_ms),
        }
    }

    /// Retry-subject hold-back time.
    pub fn retry_delay(&self) -> Duration {
        Duration::from_millis(self.retry_delay_ms)
    }

    /// Interval of meta heartbeats.
    pub fn meta_heartbeat_interval(&self) -> Duration {
        Duration::from_millis(self.meta_heartbeat_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_qmq_and_valid() {
        let config = BrokerConfig::default();
        config.validate().unwrap();
        assert_eq!(config.port, 20881);
        assert_eq!(config.group_name, "broker-0");
        assert_eq!(config.retry_delay(), Duration::from_secs(5));
        let store = config.store_config();
        store.validate().unwrap();
        assert_eq!(store.retention, Duration::from_secs(72 * 3600));
        assert_eq!(
            store.flush,
            FlushPolicy::Periodic {
                interval: Duration::from_millis(500)
            }
        );
    }

    #[test]
    fn parses_the_integration_test_section() {
        let config: BrokerConfig =
            toml::from_str("retry_delay_ms = 500\nflush = \"sync\"\n").unwrap();
        assert_eq!(config.retry_delay_ms, 500);
        assert_eq!(config.store_config().flush, FlushPolicy::Sync);
        let text = toml::to_string(&BrokerConfig::default()).unwrap();
        assert_eq!(
            toml::from_str::<BrokerConfig>(&text).unwrap(),
            BrokerConfig::default()
        );
    }

    #[test]
    fn validate_names_the_key() {
        let config = BrokerConfig {
            checkpoint_interval_ms: 0,
            ..BrokerConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert!(
            err.to_string().contains("broker.checkpoint_interval_ms"),
            "{err}"
        );
        let config = BrokerConfig {
            group_name: "a b".into(),
            ..BrokerConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
