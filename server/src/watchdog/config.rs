//! Settings of the watchdog role (`[watchdog]` section), with QMQ's defaults.
//!
//! Invariants worth naming:
//! - `Default` holds the documented defaults (no databases: the role then idles, and
//!   `standalone` does not start it);
//! - `validate()` names the offending key, including `watchdog.databases[i].url`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use qmq_core::client::transaction::{DEFAULT_TABLE, DatabaseLocation, Dialect, validate_table};

use crate::config::ConfigError;

/// One database whose outbox table the watchdog watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchedDatabase {
    /// `sqlite`, `postgres` or `mysql` (MariaDB too); must match `url`.
    pub dialect: String,
    /// `postgres://user:pass@host:port/db`, `mysql://user:pass@host:port/db`, or a SQLite file path.
    /// Written to `<data>/runtime/effective-config.toml` without its password.
    #[serde(serialize_with = "serialize_redacted")]
    pub url: String,
    /// The outbox table (`name` or `schema.name`).
    #[serde(default = "default_table")]
    pub table: String,
}

fn serialize_redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    match DatabaseLocation::parse(url) {
        Ok(location) => s.serialize_str(&location.display()),
        Err(_) => s.serialize_str("<invalid>"),
    }
}

fn default_table() -> String {
    DEFAULT_TABLE.to_owned()
}

impl WatchedDatabase {
    /// The parsed location.
    ///
    /// # Errors
    /// An invalid URL or a dialect that does not match it.
    pub fn location(&self, index: usize) -> Result<DatabaseLocation, ConfigError> {
        let key = |field: &str| format!("watchdog.databases[{index}].{field}");
        let dialect: Dialect =
            self.dialect
                .parse()
                .map_err(|e: qmq_core::client::transaction::OutboxError| {
                    ConfigError::invalid(key("dialect"), e.to_string())
                })?;
        let location = DatabaseLocation::parse(&self.url)
            .map_err(|e| ConfigError::invalid(key("url"), e.to_string()))?;
        if location.dialect() != dialect {
            return Err(ConfigError::invalid(
                key("url"),
                format!(
                    "is a {} location but dialect is {dialect}",
                    location.dialect()
                ),
            ));
        }
        validate_table(&self.table)
            .map_err(|e| ConfigError::invalid(key("table"), e.to_string()))?;
        Ok(location)
    }
}

/// Settings of the watchdog role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchdogConfig {
    /// The databases to watch.
    pub databases: Vec<WatchedDatabase>,
    /// Time between scans of one database when the last scan found less than a batch, ms
    /// (QMQ: 60 s).
    pub scan_interval_ms: u64,
    /// A pending row is resent once its `update_time` is this old, ms (QMQ: 60 s). Keep it
    /// well above a producer's send time, or rows are resent while their producer still sends.
    pub age_threshold_ms: u64,
    /// Rows claimed per scan (QMQ: 50).
    pub batch: u32,
    /// A row that failed this often is given up: status -2 (QMQ: 1000).
    pub max_errors: i64,
    /// How long one batch's sends may take before the unfinished ones count as failed, ms.
    pub send_timeout_ms: u64,
    /// The `app_code` of the watchdog's producer.
    pub app_code: String,
}

impl Default for WatchdogConfig {
    fn default() -> Self {
        Self {
            databases: Vec::new(),
            scan_interval_ms: 60_000,
            age_threshold_ms: 60_000,
            batch: 50,
            max_errors: 1000,
            send_timeout_ms: 60_000,
            app_code: "qmq-watchdog".to_owned(),
        }
    }
}

impl WatchdogConfig {
    /// Checks every value.
    ///
    /// # Errors
    /// The first invalid key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, db) in self.databases.iter().enumerate() {
            db.location(i)?;
        }
        if self.scan_interval_ms == 0 {
            return Err(ConfigError::invalid(
                "watchdog.scan_interval_ms",
                "must be at least 1",
            ));
        }
        if self.batch == 0 {
            return Err(ConfigError::invalid("watchdog.batch", "must be at least 1"));
        }
        if self.max_errors < 1 {
            return Err(ConfigError::invalid(
                "watchdog.max_errors",
                "must be at least 1",
            ));
        }
        if self.send_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "watchdog.send_timeout_ms",
                "must be at least 1",
            ));
        }
        if self.app_code.trim().is_empty() {
            return Err(ConfigError::invalid(
                "watchdog.app_code",
                "must not be empty",
            ));
        }
        Ok(())
    }

    /// `scan_interval_ms` as a duration.
    pub fn scan_interval(&self) -> Duration {
        Duration::from_millis(self.scan_interval_ms)
    }

    /// `age_threshold_ms` as a duration.
    pub fn age_threshold(&self) -> Duration {
        Duration::from_millis(self.age_threshold_ms)
    }

    /// `send_timeout_ms` as a duration.
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_qmq_values_and_validate() {
        let c = WatchdogConfig::default();
        assert_eq!(
            (c.age_threshold_ms, c.batch, c.max_errors),
            (60_000, 50, 1000)
        );
        c.validate().unwrap();
    }

    #[test]
    fn databases_are_checked_by_index() {
        let c: WatchdogConfig = toml::from_str(
            "[[databases]]\ndialect = \"sqlite\"\nurl = \"/tmp/a.db\"\n\
             [[databases]]\ndialect = \"postgres\"\nurl = \"mysql://root@h/qmq\"\n",
        )
        .unwrap();
        assert_eq!(c.databases[0].table, "qmq_msg_queue");
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("watchdog.databases[1].url"), "{err}");
        let secret: WatchdogConfig = toml::from_str(
            "[[databases]]\ndialect = \"mysql\"\nurl = \"mysql://app:s3cret@db/app\"\n",
        )
        .unwrap();
        let written = toml::to_string(&secret).unwrap();
        assert!(written.contains("mysql://app:***@db/app") && !written.contains("s3cret"));
        let bad: WatchdogConfig = toml::from_str(
            "[[databases]]\ndialect = \"sqlite\"\nurl = \"a.db\"\ntable = \"x;y\"\n",
        )
        .unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("databases[0].table")
        );
    }
}
