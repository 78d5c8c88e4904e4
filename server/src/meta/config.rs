//! `[meta]` configuration section: ports, routing and liveness settings of the meta role.
//!
//! Every key has a default (see [`MetaConfig::default`]), so an empty section is valid.
//! [`MetaConfig::validate`] rejects unusable values and names the key.

use std::net::IpAddr;
use std::time::Duration;

use qmq_core::protocol::BrokerRole;
use qmq_core::protocol::names::is_valid_name;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Placeholder for the broker's host name in [`MetaConfig::default_broker_group`].
pub const HOSTNAME_PLACEHOLDER: &str = "{hostname}";
/// Placeholder for the broker's serve port in [`MetaConfig::default_broker_group`].
pub const PORT_PLACEHOLDER: &str = "{port}";

/// Largest accepted `min_group_num`: a route wider than this is a configuration mistake.
const MAX_MIN_GROUP_NUM: usize = 64;

/// Settings of the meta role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// HTTP discovery port (`GET /meta/address`). Default 8080 (QMQ's `meta.server.discover.port`).
    pub http_port: u16,
    /// TCP meta protocol port. Default 20880 (QMQ's `meta.server.port`).
    pub tcp_port: u16,
    /// Host (IP or name) that `GET /meta/address` announces. Default: none, meaning the address
    /// the HTTP listener is bound to, or `127.0.0.1` when it is bound to an unspecified address.
    pub advertised_host: Option<String>,
    /// Broker groups assigned to a subject on first use. Default 2 (QMQ's `min.group.num`);
    /// also the number of delay groups handed to delay producers.
    pub min_group_num: usize,
    /// A broker group that sent no BROKER_REGISTER for this long counts as NRW. Default 30000
    /// (QMQ's `heartbeat.timeout.ms`).
    pub broker_heartbeat_timeout_ms: u64,
    /// A client that sent no CLIENT_REGISTER for this long is no longer listed as online.
    /// Default 200000 (Java clients heartbeat every 60 s).
    pub client_liveness_ms: u64,
    /// How often the maintenance task expires brokers and clients and saves pending changes.
    /// Default 5000. Route and broker-state changes are saved at once regardless.
    pub persist_interval_ms: u64,
    /// Group name answered to BROKER_ACQUIRE_META for a broker that is neither in `brokers` nor
    /// registered; `{hostname}` and `{port}` are replaced by the request's values.
    /// Default `{hostname}-{port}`.
    pub default_broker_group: String,
    /// Static broker table for BROKER_ACQUIRE_META (QMQ's `broker` table). Default empty: every
    /// broker is a master of its own group. When non-empty, unknown brokers get BROKER_ERROR.
    pub brokers: Vec<BrokerEntry>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            http_port: 8080,
            tcp_port: 20880,
            advertised_host: None,
            min_group_num: 2,
            broker_heartbeat_timeout_ms: 30_000,
            client_liveness_ms: 200_000,
            persist_interval_ms: 5_000,
            default_broker_group: format!("{HOSTNAME_PLACEHOLDER}-{PORT_PLACEHOLDER}"),
            brokers: Vec::new(),
        }
    }
}

/// One row of the static broker table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerEntry {
    /// Host name the broker reports (its local host name or `-Dqmq.host`).
    pub hostname: String,
    /// Port the broker serves clients on.
    pub serve_port: u16,
    /// The broker group it belongs to.
    pub group: String,
    /// Its role in the group.
    pub role: ConfiguredRole,
    /// `ip:syncPort` it replicates from (slaves) or to (backups); empty for masters.
    #[serde(default)]
    pub master: String,
}

/// A broker role as written in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ConfiguredRole {
    Master,
    Slave,
    Standby,
    Delay,
    Backup,
    DelayMaster,
    DelaySlave,
    DelayBackup,
}

impl From<ConfiguredRole> for BrokerRole {
    fn from(role: ConfiguredRole) -> Self {
        match role {
            ConfiguredRole::Master => Self::Master,
            ConfiguredRole::Slave => Self::Slave,
            ConfiguredRole::Standby => Self::Standby,
            ConfiguredRole::Delay => Self::Delay,
            ConfiguredRole::Backup => Self::Backup,
            ConfiguredRole::DelayMaster => Self::DelayMaster,
            ConfiguredRole::DelaySlave => Self::DelaySlave,
            ConfiguredRole::DelayBackup => Self::DelayBackup,
        }
    }
}

impl MetaConfig {
    /// `broker_heartbeat_timeout_ms` as a duration.
    pub fn broker_heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.broker_heartbeat_timeout_ms)
    }

    /// `client_liveness_ms` as a duration.
    pub fn client_liveness(&self) -> Duration {
        Duration::from_millis(self.client_liveness_ms)
    }

    /// `persist_interval_ms` as a duration.
    pub fn persist_interval(&self) -> Duration {
        Duration::from_millis(self.persist_interval_ms)
    }

    /// The default group name for a broker, from `default_broker_group`.
    pub fn default_group_name(&self, hostname: &str, port: i32) -> String {
        self.default_broker_group
            .replace(HOSTNAME_PLACEHOLDER, hostname)
            .replace(PORT_PLACEHOLDER, &port.to_string())
    }

    /// Checks every key.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first unusable key as `meta.<key>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad =
            |key: &str, reason: String| Err(ConfigError::invalid(format!("meta.{key}"), reason));
        if self.min_group_num == 0 || self.min_group_num > MAX_MIN_GROUP_NUM {
            return bad(
                "min_group_num",
                format!(
                    "must be 1..={MAX_MIN_GROUP_NUM}, got {}",
                    self.min_group_num
                ),
            );
        }
        for (key, value) in [
            (
                "broker_heartbeat_timeout_ms",
                self.broker_heartbeat_timeout_ms,
            ),
            ("client_liveness_ms", self.client_liveness_ms),
            ("persist_interval_ms", self.persist_interval_ms),
        ] {
            // Upper bound keeps epoch-millisecond arithmetic far from overflow.
            if value == 0 || value > i64::MAX as u64 / 4 {
                return bad(key, format!("must be a positive number of ms, got {value}"));
            }
        }
        if let Some(host) = &self.advertised_host
            && (host.is_empty()
                || host.chars().any(char::is_whitespace)
                || (host.contains(':') && host.parse::<IpAddr>().is_err()))
        {
            return bad(
                "advertised_host",
                format!("must be an IP address or host name, got {host:?}"),
            );
        }
        let sample = self.default_group_name("host", 1);
        if !is_valid_name(&sample) {
            return bad(
                "default_broker_group",
                format!(
                    "must yield a valid group name (no '/' or whitespace, not empty), got {:?}",
                    self.default_broker_group
                ),
            );
        }
        for (i, entry) in self.brokers.iter().enumerate() {
            if !is_valid_name(&entry.hostname) || !is_valid_name(&entry.group) {
                return bad(
                    "brokers",
                    format!("entry {i}: hostname and group must be valid names"),
                );
            }
            let role = BrokerRole::from(entry.role);
            if role.is_master() != entry.master.is_empty() {
                return bad(
                    "brokers",
                    format!("entry {i}: `master` must be empty exactly for master roles"),
                );
            }
            let duplicate = self.brokers[..i]
                .iter()
                .any(|e| e.hostname == entry.hostname && e.serve_port == entry.serve_port);
            if duplicate {
                return bad(
                    "brokers",
                    format!(
                        "entry {i}: {}:{} is listed twice",
                        entry.hostname, entry.serve_port
                    ),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_documented_values_and_valid() {
        let c = MetaConfig::default();
        assert_eq!(c.http_port, 8080);
        assert_eq!(c.tcp_port, 20880);
        assert_eq!(c.min_group_num, 2);
        assert_eq!(c.broker_heartbeat_timeout(), Duration::from_secs(30));
        assert_eq!(c.client_liveness(), Duration::from_secs(200));
        assert_eq!(c.advertised_host, None);
        c.validate().unwrap();
        assert_eq!(c.default_group_name("b1", 20881), "b1-20881");
    }

    #[test]
    fn empty_toml_section_gives_defaults() {
        let c: MetaConfig = toml::from_str("").unwrap();
        assert_eq!(c, MetaConfig::default());
        let c: MetaConfig = toml::from_str(
            "min_group_num = 3\n[[brokers]]\nhostname = \"h\"\nserve_port = 1\ngroup = \"g\"\nrole = \"DELAY_MASTER\"\n",
        )
        .unwrap();
        assert_eq!(c.min_group_num, 3);
        assert_eq!(c.brokers[0].role, ConfiguredRole::DelayMaster);
        c.validate().unwrap();
    }

    #[test]
    fn validate_names_the_offending_key() {
        let key_of = |c: MetaConfig| match c.validate() {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected config error, got {other:?}"),
        };
        let base = MetaConfig::default;
        assert_eq!(
            key_of(MetaConfig {
                min_group_num: 0,
                ..base()
            }),
            "meta.min_group_num"
        );
        assert_eq!(
            key_of(MetaConfig {
                broker_heartbeat_timeout_ms: 0,
                ..base()
            }),
            "meta.broker_heartbeat_timeout_ms"
        );
        assert_eq!(
            key_of(MetaConfig {
                advertised_host: Some("a b".into()),
                ..base()
            }),
            "meta.advertised_host"
        );
        assert_eq!(
            key_of(MetaConfig {
                default_broker_group: "a/{port}".into(),
                ..base()
            }),
            "meta.default_broker_group"
        );
        let slave_without_master = BrokerEntry {
            hostname: "h".into(),
            serve_port: 1,
            group: "g".into(),
            role: ConfiguredRole::Slave,
            master: String::new(),
        };
        assert_eq!(
            key_of(MetaConfig {
                brokers: vec![slave_without_master],
                ..base()
            }),
            "meta.brokers"
        );
    }
}
