//! `host:port` addresses as QMQ writes them (meta locator body, broker `master` fields).
//!
//! Invariants: `host` is non-empty and has no surrounding brackets (an IPv6 literal is stored
//! bare and bracketed again by [`HostPort`]'s `Display`); `port` is non-zero.

use std::fmt;
use std::str::FromStr;

/// A `host:port` pair, e.g. the meta server's TCP address or a broker group's master.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    host: String,
    port: u16,
}

/// Why a `host:port` string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostPortError {
    /// There is no `:` separating host and port.
    #[error("missing ':port'")]
    MissingPort,
    /// The host part is empty.
    #[error("empty host")]
    EmptyHost,
    /// The port is not a number in 1..=65535.
    #[error("port is not a number in 1..=65535")]
    BadPort,
    /// The host contains whitespace, `/`, or unbalanced brackets.
    #[error("host contains invalid characters")]
    BadHost,
}

impl HostPort {
    /// Builds an address from parts.
    ///
    /// # Errors
    /// [`HostPortError`] if the host is empty or has invalid characters, or the port is 0.
    pub fn new(host: impl Into<String>, port: u16) -> Result<Self, HostPortError> {
        let host = host.into();
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(inner) => inner.to_owned(),
            None => host,
        };
        if host.is_empty() {
            return Err(HostPortError::EmptyHost);
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '[' || c == ']' || c == '@')
        {
            return Err(HostPortError::BadHost);
        }
        if port == 0 {
            return Err(HostPortError::BadPort);
        }
        Ok(Self { host, port })
    }

    /// The host name or IP literal (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for HostPort {
    type Err = HostPortError;

    /// Parses `host:port` or `[v6]:port`; surrounding whitespace is trimmed.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (host, port) = s.rsplit_once(':').ok_or(HostPortError::MissingPort)?;
        // A bare IPv6 literal without brackets is ambiguous ("::1:80"): require brackets.
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(HostPortError::BadHost);
        }
        let port: u16 = port.parse().map_err(|_| HostPortError::BadPort)?;
        Self::new(host, port)
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_hostname_and_bracketed_ipv6() {
        let a: HostPort = " 10.1.2.3:20880\n".parse().unwrap();
        assert_eq!((a.host(), a.port()), ("10.1.2.3", 20880));
        assert_eq!(a.to_string(), "10.1.2.3:20880");
        let b: HostPort = "meta.local:1".parse().unwrap();
        assert_eq!(b.host(), "meta.local");
        let c: HostPort = "[::1]:8080".parse().unwrap();
        assert_eq!((c.host(), c.port()), ("::1", 8080));
        assert_eq!(c.to_string(), "[::1]:8080");
    }

    #[test]
    fn rejects_malformed_addresses() {
        assert_eq!("".parse::<HostPort>(), Err(HostPortError::MissingPort));
        assert_eq!("host".parse::<HostPort>(), Err(HostPortError::MissingPort));
        assert_eq!(":80".parse::<HostPort>(), Err(HostPortError::EmptyHost));
        assert_eq!("h:0".parse::<HostPort>(), Err(HostPortError::BadPort));
        assert_eq!("h:65536".parse::<HostPort>(), Err(HostPortError::BadPort));
        assert_eq!("h:-1".parse::<HostPort>(), Err(HostPortError::BadPort));
        assert_eq!("a b:80".parse::<HostPort>(), Err(HostPortError::BadHost));
        assert_eq!("::1:80".parse::<HostPort>(), Err(HostPortError::BadHost));
        assert_eq!(
            "<html>".parse::<HostPort>(),
            Err(HostPortError::MissingPort)
        );
    }
}
