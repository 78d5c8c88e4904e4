//! Meta discovery over HTTP (spec §2.1): `GET http://host:port/meta/address` answers the meta
//! server's TCP address as a plain-text `ip:port` body.
//!
//! A minimal HTTP/1.1 client on a tokio `TcpStream`, so `qmq-core` needs no HTTP stack.
//! Invariants:
//! * one request per connection (`Connection: close`);
//! * connect is bounded by `connect_timeout`, and every read by `read_timeout` (Java's
//!   `SO_TIMEOUT` semantics); the whole exchange is additionally bounded by `total_timeout`
//!   and the response by `max_response_bytes`, so a dripping server cannot hold us forever;
//! * only status 200 is accepted; the body is trimmed and must parse as [`HostPort`];
//! * `Content-Length`, `Transfer-Encoding: chunked` and read-to-EOF bodies are understood.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};

use super::address::HostPort;
use super::error::ClientError;

/// Timeouts and limits of the meta locator. Defaults are the Java client's (spec §2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatorConfig {
    /// Bound on DNS resolution plus TCP connect. Default 1000 ms.
    pub connect_timeout: Duration,
    /// Bound on each read while waiting for response bytes. Default 500 ms.
    pub read_timeout: Duration,
    /// Bound on one whole attempt (connect, write, read). Default 5 s.
    pub total_timeout: Duration,
    /// Attempts per [`MetaLocator::locate`] call. Default 3.
    pub attempts: u32,
    /// Pause between attempts. Default 100 ms.
    pub attempt_delay: Duration,
    /// Largest response (head and body) accepted. Default 16 KiB.
    pub max_response_bytes: usize,
}

impl Default for LocatorConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(1000),
            read_timeout: Duration::from_millis(500),
            total_timeout: Duration::from_secs(5),
            attempts: 3,
            attempt_delay: Duration::from_millis(100),
            max_response_bytes: 16 * 1024,
        }
    }
}

/// A parsed `http://host[:port][/path][?query]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaUrl {
    url: String,
    authority: HostPort,
    path_and_query: String,
}

impl MetaUrl {
    /// Parses a locator URL. Only plain `http` is supported; the port defaults to 80.
    ///
    /// # Errors
    /// [`ClientError::InvalidMetaUrl`] naming what is wrong.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |reason| ClientError::InvalidMetaUrl {
            url: url.to_owned(),
            reason,
        };
        let trimmed = url.trim();
        let scheme_end = trimmed.find("://").ok_or_else(|| bad("missing http://"))?;
        if !trimmed[..scheme_end].eq_ignore_ascii_case("http") {
            return Err(bad("only http:// is supported"));
        }
        let rest = &trimmed[scheme_end + 3..];
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(bad("user info is not supported"));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("path contains whitespace or control characters"));
        }
        let path_and_query = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        let authority = parse_authority(authority).ok_or_else(|| bad("bad host or port"))?;
        Ok(Self {
            url: trimmed.to_owned(),
            authority,
            path_and_query,
        })
    }

    /// The URL as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The host and port to connect to.
    pub fn authority(&self) -> &HostPort {
        &self.authority
    }

    /// The request target, e.g. `/meta/address`.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }
}

fn parse_authority(authority: &str) -> Option<HostPort> {
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[..i].contains(':') || authority[..i].ends_with(']'),
        None => false,
    };
    if has_port {
        authority.parse().ok()
    } else {
        HostPort::new(authority, 80).ok()
    }
}

/// Finds the meta server's TCP address through its HTTP locator.
#[derive(Debug, Clone)]
pub struct MetaLocator {
    url: MetaUrl,
    config: LocatorConfig,
}

impl MetaLocator {
    /// A locator for `url` with the given limits.
    ///
    /// # Errors
    /// [`ClientError::InvalidMetaUrl`] if the URL is unusable.
    pub fn new(url: &str, config: LocatorConfig) -> Result<Self, ClientError> {
        Ok(Self {
            url: MetaUrl::parse(url)?,
            config,
        })
    }

    /// The URL queried.
    pub fn url(&self) -> &MetaUrl {
        &self.url
    }

    /// Queries the locator up to `attempts` times (at least once) and returns the first good
    /// answer.
    ///
    /// # Errors
    /// [`ClientError::MetaLocateExhausted`] wrapping the last attempt's error.
    pub async fn locate(&self) -> Result<HostPort, ClientError> {
        let attempts = self.config.attempts.max(1);
        let mut last = None;
        for attempt in 1..=attempts {
            match self.locate_once().await {
                Ok(addr) => return Ok(addr),
                Err(e) => {
                    tracing::debug!(url = self.url.as_str(), attempt, error = %e, "meta locate attempt failed");
                    last = Some(e);
                }
            }
            if attempt < attempts && !self.config.attempt_delay.is_zero() {
                tokio::time::sleep(self.config.attempt_delay).await;
            }
        }
        Err(ClientError::MetaLocateExhausted {
            url: self.url.as_str().to_owned(),
            attempts,
            source: Box::new(last.unwrap_or(ClientError::MetaHttpMalformed {
                url: self.url.as_str().to_owned(),
                reason: "no attempt was made",
            })),
        })
    }

    /// One query, without retries.
    ///
    /// # Errors
    /// A `Meta*` [`ClientError`] describing the failure (connect, timeout, status, body).
    pub async fn locate_once(&self) -> Result<HostPort, ClientError> {
        let deadline = Instant::now() + self.config.total_timeout;
        let addr = self.url.authority().to_string();
        let total_timeout_err = || ClientError::MetaReadTimeout {
            addr: addr.clone(),
            timeout: self.config.total_timeout,
        };
        let exchange = async {
            let mut stream = self.connect().await?;
            let request = format!(
                "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/plain, */*\r\n\
                 User-Agent: qmq-rs/{}\r\nConnection: close\r\n\r\n",
                self.url.path_and_query(),
                self.url.authority(),
                env!("CARGO_PKG_VERSION"),
            );
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(|source| ClientError::MetaIo {
                    addr: addr.clone(),
                    source,
                })?;
            self.read_response(&mut stream, &addr).await
        };
        let (status, body) = timeout_at(deadline, exchange)
            .await
            .map_err(|_| total_timeout_err())??;
        if status != 200 {
            return Err(ClientError::MetaHttpStatus {
                url: self.url.as_str().to_owned(),
                status,
            });
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        text.parse().map_err(|source| ClientError::MetaBadAddress {
            url: self.url.as_str().to_owned(),
            body: text.chars().take(200).collect(),
            source,
        })
    }

    async fn connect(&self) -> Result<TcpStream, ClientError> {
        let a = self.url.authority();
        let addr = a.to_string();
        match timeout(
            self.config.connect_timeout,
            TcpStream::connect((a.host(), a.port())),
        )
        .await
        {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(source)) => Err(ClientError::MetaConnect { addr, source }),
            Err(_) => Err(ClientError::MetaConnectTimeout {
                addr,
                timeout: self.config.connect_timeout,
            }),
        }
    }

    /// Reads until the response is complete; returns (status, decoded body).
    async fn read_response(
        &self,
        stream: &mut TcpStream,
        addr: &str,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let mut buf = Vec::with_capacity(512);
        let mut chunk = [0u8; 1024];
        loop {
            let n = match timeout(self.config.read_timeout, stream.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(source)) => {
                    return Err(ClientError::MetaIo {
                        addr: addr.to_owned(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(ClientError::MetaReadTimeout {
                        addr: addr.to_owned(),
                        timeout: self.config.read_timeout,
                    });
                }
            };
            let eof = n == 0;
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            if buf.len() > self.config.max_response_bytes {
                return Err(self.malformed("response too large"));
            }
            match parse_response(&buf, eof) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) if eof => return Err(self.malformed("connection closed mid-response")),
                Ok(None) => {}
                Err(reason) => return Err(self.malformed(reason)),
            }
        }
    }

    fn malformed(&self, reason: &'static str) -> ClientError {
        ClientError::MetaHttpMalformed {
            url: self.url.as_str().to_owned(),
            reason,
        }
    }
}

/// Parses a buffered HTTP/1.x response. `Ok(None)` = need more bytes; `eof` = the peer closed,
/// which completes a body without length.
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<(u16, Vec<u8>)>, &'static str> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(buf.get(..head_end).unwrap_or_default())
        .map_err(|_| "response head is not UTF-8")?;
    let body = buf.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err("not an HTTP/1.x status line");
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or("bad status code")?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or("header line without ':'")?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let body = if chunked {
        decode_chunked(body)?
    } else {
        match content_length {
            Some(len) => body.get(..len).map(<[u8]>::to_vec),
            None if eof => Some(body.to_vec()),
            None => None,
        }
    };
    Ok(body.map(|b| (status, b)))
}

/// Decodes a complete chunked body; `Ok(None)` if the terminating chunk has not arrived yet.
fn decode_chunked(mut data: &[u8]) -> Result<Option<Vec<u8>>, &'static str> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(data.get(..line_end).unwrap_or_default())
            .map_err(|_| "bad chunk size")?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
        data = data.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            // Trailers are ignored; the body is complete once the size-0 line is in.
            return Ok(Some(out));
        }
        let Some(chunk) = data.get(..size) else {
            return Ok(None);
        };
        out.extend_from_slice(chunk);
        match data.get(size..size + 2) {
            Some(b"\r\n") => data = data.get(size + 2..).unwrap_or_default(),
            Some(_) => return Err("chunk not followed by CRLF"),
            None => return Ok(None),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "meta_locator_tests.rs"]
mod tests;
