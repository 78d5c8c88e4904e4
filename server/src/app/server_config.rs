//! The whole server configuration: one section per role plus `[server]` and `[net]`.
//!
//! A checked-in `server/qmq-server.toml` documents every key; `QMQ_<SECTION>_<KEY>` environment
//! variables override the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::broker::BrokerConfig;
use crate::config::ConfigError;
use crate::delay::DelayConfig;
use crate::meta::MetaConfig;
use crate::net::NetConfig;
use crate::watchdog::WatchdogConfig;

/// Process-wide settings (`[server]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// Where every role keeps its files (`meta/`, `broker/`, `delay/`, `runtime/`).
    pub data_dir: PathBuf,
    /// Address every listener binds.
    pub host: String,
    /// Address other processes reach this one at; derived from `host` when unset (and a
    /// non-loopback local IPv4 address when `host` is `0.0.0.0`).
    pub advertised_host: Option<String>,
    /// Meta discovery URL for the `broker` and `delay` commands (standalone needs none).
    pub meta_url: String,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("qmq-data"),
            host: "0.0.0.0".to_owned(),
            advertised_host: None,
            meta_url: "http://127.0.0.1:8080/meta/address".to_owned(),
        }
    }
}

/// Everything `qmq-server` reads from its config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Process-wide settings.
    pub server: ServerSection,
    /// TCP limits shared by every role.
    pub net: NetConfig,
    /// The meta role.
    pub meta: MetaConfig,
    /// The broker role.
    pub broker: BrokerConfig,
    /// The delay role.
    pub delay: DelayConfig,
    /// The watchdog role (transactional-message resends).
    pub watchdog: WatchdogConfig,
}

impl ServerConfig {
    /// Reads a config file (or the defaults) with environment overrides.
    ///
    /// # Errors
    /// Unreadable file, bad TOML, wrong types.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        super::config_file::load(path)
    }

    /// A configuration for tests: data in `data_dir`, every port 0, loopback only.
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut config = Self::default();
        config.server.data_dir = data_dir.to_path_buf();
        config.server.host = "127.0.0.1".to_owned();
        config.meta.http_port = 0;
        config.meta.tcp_port = 0;
        config.broker.port = 0;
        config.delay.port = 0;
        config
    }

    /// Checks every section.
    ///
    /// # Errors
    /// The first invalid key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.server.host.trim().is_empty() {
            return Err(ConfigError::invalid("server.host", "must not be empty"));
        }
        self.net.validate()?;
        self.meta.validate()?;
        self.broker.validate()?;
        self.delay.validate()?;
        self.watchdog.validate()
    }

    /// The host other processes should use to reach this one.
    pub fn advertised_host(&self) -> String {
        if let Some(host) = &self.server.advertised_host {
            return host.clone();
        }
        match self.server.host.as_str() {
            "0.0.0.0" | "::" | "[::]" => qmq_core::client::ids::local_ipv4().to_string(),
            host => host.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_qmq_ports_and_validate() {
        let config = ServerConfig::default();
        assert_eq!(
            (
                config.meta.http_port,
                config.meta.tcp_port,
                config.broker.port
            ),
            (8080, 20880, 20881)
        );
        config.validate().unwrap();
    }

    #[test]
    fn file_sections_parse_and_unknown_keys_are_rejected() {
        let config: ServerConfig =
            toml::from_str("[server]\ndata_dir = \"/tmp/x\"\n[broker]\nflush = \"sync\"\n")
                .unwrap();
        assert_eq!(config.server.data_dir, PathBuf::from("/tmp/x"));
        assert!(toml::from_str::<ServerConfig>("[broker]\nnope = 1\n").is_err());
    }
}

#[cfg(test)]
mod checked_in_file {
    use super::*;

    /// `server/qmq-server.toml` documents every key with its default; keep them in step.
    #[test]
    fn checked_in_config_file_holds_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("qmq-server.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let config: ServerConfig = toml::from_str(&text).unwrap();
        assert_eq!(config, ServerConfig::default());
    }
}
