//! HTTP discovery (spec §2.1): `GET /meta/address` answers `<ip>:<tcp_port>`.
//!
//! A deliberately minimal HTTP/1.1 server: one request per connection (`Connection: close`),
//! request head limited to [`MAX_HEAD_LEN`] bytes and [`READ_TIMEOUT`], body ignored. Answers:
//! 200 for `GET /meta/address` (query string ignored), 404 for other paths, 405 for other
//! methods, 400 for anything that is not an HTTP/1.x request line, 431 for an oversized head,
//! 408 when the head does not arrive in time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The discovery path.
pub const ADDRESS_PATH: &str = "/meta/address";
/// Largest accepted request head.
pub const MAX_HEAD_LEN: usize = 8 * 1024;
/// Time allowed for the request head to arrive.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The `<host>:<port>` that discovery announces: `advertised_host` if configured, else the IP
/// the HTTP listener is bound to, with `127.0.0.1` standing in for an unspecified address.
/// IPv6 literals are bracketed.
pub fn advertised_address(
    advertised_host: Option<&str>,
    http_bound: SocketAddr,
    tcp_port: u16,
) -> String {
    let host = match advertised_host {
        Some(host) => host.to_owned(),
        None if http_bound.ip().is_unspecified() => Ipv4Addr::LOCALHOST.to_string(),
        None => http_bound.ip().to_string(),
    };
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]:{tcp_port}"),
        _ => format!("{host}:{tcp_port}"),
    }
}

/// Serves discovery on `listener` until `shutdown` is cancelled, then waits for the
/// connections in progress (each is bounded by [`READ_TIMEOUT`] or cancelled).
pub async fn serve_http(listener: TcpListener, advertised: String, shutdown: CancellationToken) {
    let advertised: Arc<str> = advertised.into();
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let advertised = Arc::clone(&advertised);
                    let shutdown = shutdown.clone();
                    tracker.spawn(async move {
                        tokio::select! {
                            () = shutdown.cancelled() => {}
                            () = serve_connection(stream, peer, &advertised) => {}
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// What reading the request head produced.
enum Head {
    Complete(Vec<u8>),
    TooLarge,
    /// The peer closed before sending a whole head; `true` when it sent something.
    Closed(bool),
}

async fn serve_connection(mut stream: TcpStream, peer: SocketAddr, advertised: &str) {
    let response = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Err(_elapsed) => Response::status(408, "Request Timeout"),
        Ok(Err(error)) => {
            tracing::debug!(conn = %peer, %error, "http read failed");
            return;
        }
        Ok(Ok(Head::Closed(false))) => return,
        Ok(Ok(Head::Closed(true))) => Response::status(400, "Bad Request"),
        Ok(Ok(Head::TooLarge)) => Response::status(431, "Request Header Fields Too Large"),
        Ok(Ok(Head::Complete(head))) => respond(&head, advertised),
    };
    let written = tokio::time::timeout(READ_TIMEOUT, async {
        stream.write_all(&response.to_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    if let Ok(Err(error)) = written {
        tracing::debug!(conn = %peer, %error, "http write failed");
    }
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Head::Closed(!buf.is_empty()));
        }
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf[scan_from..]) {
            buf.truncate(scan_from + end);
            return Ok(Head::Complete(buf));
        }
        if buf.len() > MAX_HEAD_LEN {
            return Ok(Head::TooLarge);
        }
    }
}

/// Index just past the blank line ending the head (`\r\n\r\n`, or a lenient `\n\n`).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if buf[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// A complete response; always `Connection: close`.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    code: u16,
    reason: &'static str,
    allow_get: bool,
    body: String,
}

impl Response {
    fn status(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            allow_get: false,
            body: String::new(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let allow = if self.allow_get { "Allow: GET\r\n" } else { "" };
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n{}",
            self.code,
            self.reason,
            self.body.len(),
            self.body
        )
        .into_bytes()
    }
}

/// Answers a request head.
fn respond(head: &[u8], advertised: &str) -> Response {
    let Some((method, path)) = parse_request_line(head) else {
        return Response::status(400, "Bad Request");
    };
    if method != "GET" {
        return Response {
            allow_get: true,
            ..Response::status(405, "Method Not Allowed")
        };
    }
    if path != ADDRESS_PATH {
        return Response::status(404, "Not Found");
    }
    Response {
        body: advertised.to_owned(),
        ..Response::status(200, "OK")
    }
}

/// `(method, path without query)` of an HTTP/1.x request line, `None` for anything else.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let is_token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic());
    if parts.next().is_some()
        || !is_token(method)
        || !target.starts_with('/')
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some((method, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        out
    }

    #[test]
    fn advertised_address_defaults_to_bound_ip_or_loopback() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let bound: SocketAddr = "10.1.2.3:8080".parse().unwrap();
        assert_eq!(advertised_address(None, any, 20880), "127.0.0.1:20880");
        assert_eq!(advertised_address(None, bound, 20880), "10.1.2.3:20880");
        assert_eq!(
            advertised_address(Some("meta.example"), any, 1),
            "meta.example:1"
        );
        assert_eq!(advertised_address(Some("::1"), any, 2), "[::1]:2");
    }

    #[test]
    fn request_lines_are_parsed_strictly() {
        assert_eq!(
            parse_request_line(b"GET /meta/address?x=1 HTTP/1.1\r\n\r\n"),
            Some(("GET", "/meta/address"))
        );
        for bad in [
            &b"\x16\x03\x01garbage\r\n\r\n"[..],
            b"GET\r\n\r\n",
            b"GET meta HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2\r\n\r\n",
            b"GET / HTTP/1.1 extra\r\n\r\n",
        ] {
            assert_eq!(parse_request_line(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn discovery_answers_address_404_405_400_and_keeps_serving() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let advertised = advertised_address(None, addr, 20880);
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_http(listener, advertised, shutdown.clone()));

        let ok = get(addr, b"GET /meta/address HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Connection: close\r\n"));
        assert!(ok.ends_with("\r\n\r\n127.0.0.1:20880"), "{ok}");

        let missing = get(addr, b"GET /other HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let post = get(addr, b"POST /meta/address HTTP/1.1\r\n\r\n").await;
        assert!(
            post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET"),
            "{post}"
        );
        let garbage = get(addr, b"\x00\x01\x02 not http\r\n\r\n").await;
        assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
        let huge = get(addr, &vec![b'A'; MAX_HEAD_LEN + 10]).await;
        assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");

        let again = get(addr, b"GET /meta/address HTTP/1.0\r\n\r\n").await;
        assert!(again.ends_with("127.0.0.1:20880"), "{again}");

        shutdown.cancel();
        server.await.unwrap();
    }
}
