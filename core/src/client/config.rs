//! `ClientConfig`: everything a producer or consumer needs, with QMQ's defaults.
//!
//! One struct per section (`meta`, `runtime`, `producer`, `consumer`), each with a `Default`
//! holding the documented defaults. [`ClientConfig::validate`] returns a [`ConfigError`] that
//! names the offending key as `section.field`.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::backoff::Backoff;
use super::breaker::BreakerConfig;
use super::connection::ConnectionConfig;
use super::meta_locator::{LocatorConfig, MetaUrl};
use super::runtime::RuntimeConfig;

/// Default meta locator URL.
pub const DEFAULT_META_URL: &str = "http://127.0.0.1:8080/meta/address";

/// Longest string the wire's `str16` can carry.
const MAX_STR16: usize = i16::MAX as usize;

/// A configuration value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `key` has an unusable value.
    #[error("invalid configuration {key}: {reason}")]
    Invalid {
        /// The key, as `section.field` (e.g. `producer.batch_size`).
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The offending key.
    pub fn key(&self) -> &str {
        match self {
            Self::Invalid { key, .. } => key,
        }
    }
}

/// Where and how to reach the meta server.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaConfig {
    /// The HTTP locator URL. Default [`DEFAULT_META_URL`].
    pub url: String,
    /// Locator timeouts and attempts.
    pub locator: LocatorConfig,
    /// How often routes are refreshed and registrations re-sent as heartbeats. Default 60 s.
    pub refresh_interval: Duration,
    /// Timeout of one request to the meta server's TCP port. Default 5 s.
    pub request_timeout: Duration,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_META_URL.to_owned(),
            locator: LocatorConfig::default(),
            refresh_interval: Duration::from_secs(60),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// Producer knobs; defaults are the Java client's (spec §12).
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerConfig {
    /// Most messages per SEND_MESSAGE request (per route). Default 30.
    pub batch_size: usize,
    /// Capacity of the async send queue. Default 10 000.
    pub queue_capacity: usize,
    /// Send attempts per message before it fails. Default 10.
    pub send_tries: u32,
    /// Timeout of one SEND_MESSAGE request. Default 5 s.
    pub send_timeout: Duration,
    /// Wait between send attempts.
    pub backoff: Backoff,
    /// Per-broker-group circuit breaker thresholds.
    pub breaker: BreakerConfig,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        Self {
            batch_size: 30,
            queue_capacity: 10_000,
            send_tries: 10,
            send_timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// Consumer knobs; defaults are the Java client's (spec §4–§6).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerConfig {
    /// Most messages asked for per PULL_MESSAGE. Default 50.
    pub pull_batch_size: u32,
    /// How long the broker may hold a pull open (long poll). Default 2500 ms.
    pub pull_timeout: Duration,
    /// Deliveries after which a failed message goes to the dead-letter subject. Default 32.
    pub max_retry: u32,
    /// Wait between attempts to send a failed message back for retry. Default 5 s.
    pub retry_delay: Duration,
    /// Interval of empty ACKs that keep the consumer alive on a broker. Default 10 s.
    pub ack_heartbeat: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        Self {
            pull_batch_size: 50,
            pull_timeout: Duration::from_millis(2500),
            max_retry: 32,
            retry_delay: Duration::from_secs(5),
            ack_heartbeat: Duration::from_secs(10),
        }
    }
}

/// Configuration of a QMQ client (producer and/or consumer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientConfig {
    /// Application code sent to meta (`appCode`) and set on messages. Required, no default.
    pub app_code: String,
    /// A fixed client id; `None` generates a unique one per client instance.
    pub client_id: Option<String>,
    /// The IPv4 put into message ids; `None` detects it (the Java `-Dqmq.ip`).
    pub local_ip: Option<Ipv4Addr>,
    /// Meta server discovery.
    pub meta: MetaConfig,
    /// The client's own tokio runtime.
    pub runtime: RuntimeConfig,
    /// TCP connections to brokers and the meta server.
    pub connection: ConnectionConfig,
    /// Producer knobs.
    pub producer: ProducerConfig,
    /// Consumer knobs.
    pub consumer: ConsumerConfig,
}

impl ClientConfig {
    /// Defaults with the given application code.
    pub fn new(app_code: impl Into<String>) -> Self {
        Self {
            app_code: app_code.into(),
            ..Self::default()
        }
    }

    /// Checks every value.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        wire_string("app_code", &self.app_code, false)?;
        if let Some(id) = &self.client_id {
            wire_string("client_id", id, false)?;
        }
        MetaUrl::parse(&self.meta.url)
            .map_err(|e| ConfigError::invalid("meta.url", e.to_string()))?;
        positive(
            "meta.locator.connect_timeout",
            self.meta.locator.connect_timeout,
        )?;
        positive("meta.locator.read_timeout", self.meta.locator.read_timeout)?;
        positive(
            "meta.locator.total_timeout",
            self.meta.locator.total_timeout,
        )?;
        at_least("meta.locator.attempts", self.meta.locator.attempts, 1)?;
        at_least(
            "meta.locator.max_response_bytes",
            self.meta.locator.max_response_bytes,
            64,
        )?;
        positive("meta.refresh_interval", self.meta.refresh_interval)?;
        positive("meta.request_timeout", self.meta.request_timeout)?;
        self.runtime.validate()?;
        self.connection.validate()?;

        let p = &self.producer;
        at_least("producer.batch_size", p.batch_size, 1)?;
        at_least("producer.queue_capacity", p.queue_capacity, 1)?;
        if p.batch_size > p.queue_capacity {
            return Err(ConfigError::invalid(
                "producer.batch_size",
                format!(
                    "{} > producer.queue_capacity {}",
                    p.batch_size, p.queue_capacity
                ),
            ));
        }
        at_least("producer.send_tries", p.send_tries, 1)?;
        positive("producer.send_timeout", p.send_timeout)?;
        p.backoff.validate("producer.backoff")?;
        at_least(
            "producer.breaker.failure_threshold",
            p.breaker.failure_threshold,
            1,
        )?;
        at_least(
            "producer.breaker.half_open_successes",
            p.breaker.half_open_successes,
            1,
        )?;

        let c = &self.consumer;
        at_least("consumer.pull_batch_size", c.pull_batch_size, 1)?;
        at_most("consumer.pull_batch_size", c.pull_batch_size, 10_000)?;
        positive("consumer.pull_timeout", c.pull_timeout)?;
        positive("consumer.ack_heartbeat", c.ack_heartbeat)?;
        Ok(())
    }
}

fn wire_string(key: &str, value: &str, allow_empty: bool) -> Result<(), ConfigError> {
    if !allow_empty && value.is_empty() {
        return Err(ConfigError::invalid(key, "must not be empty"));
    }
    if value.len() > MAX_STR16 {
        return Err(ConfigError::invalid(
            key,
            format!("longer than {MAX_STR16} bytes"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ConfigError::invalid(
            key,
            "contains whitespace or control characters",
        ));
    }
    Ok(())
}

fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be greater than zero"));
    }
    Ok(())
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::invalid(
            key,
            format!("{value} is less than {min}"),
        ));
    }
    Ok(())
}

fn at_most<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    max: T,
) -> Result<(), ConfigError> {
    if value > max {
        return Err(ConfigError::invalid(
            key,
            format!("{value} is more than {max}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_qmqs() {
        let c = ClientConfig::new("app");
        assert_eq!(c.meta.url, "http://127.0.0.1:8080/meta/address");
        assert_eq!(c.producer.batch_size, 30);
        assert_eq!(c.producer.queue_capacity, 10_000);
        assert_eq!(c.producer.send_tries, 10);
        assert_eq!(c.producer.send_timeout, Duration::from_secs(5));
        assert_eq!(c.consumer.pull_batch_size, 50);
        assert_eq!(c.consumer.pull_timeout, Duration::from_millis(2500));
        assert_eq!(c.consumer.max_retry, 32);
        assert_eq!(c.consumer.ack_heartbeat, Duration::from_secs(10));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn app_code_is_required() {
        assert_eq!(
            ClientConfig::default().validate().unwrap_err().key(),
            "app_code"
        );
        assert_eq!(
            ClientConfig::new("a b").validate().unwrap_err().key(),
            "app_code"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        type Mutation = fn(&mut ClientConfig);
        let cases: [(&str, Mutation); 9] = [
            ("meta.url", |c| c.meta.url = "ftp://x".into()),
            ("client_id", |c| c.client_id = Some(String::new())),
            ("meta.locator.attempts", |c| c.meta.locator.attempts = 0),
            ("producer.batch_size", |c| c.producer.batch_size = 0),
            ("producer.batch_size", |c| c.producer.queue_capacity = 10),
            ("producer.send_timeout", |c| {
                c.producer.send_timeout = Duration::ZERO
            }),
            ("consumer.pull_batch_size", |c| {
                c.consumer.pull_batch_size = 0
            }),
            ("consumer.pull_batch_size", |c| {
                c.consumer.pull_batch_size = 10_001
            }),
            ("runtime.worker_threads", |c| c.runtime.worker_threads = 0),
        ];
        for (key, mutate) in cases {
            let mut c = ClientConfig::new("app");
            mutate(&mut c);
            let err = c.validate().unwrap_err();
            assert_eq!(err.key(), key, "{err}");
        }
    }
}
