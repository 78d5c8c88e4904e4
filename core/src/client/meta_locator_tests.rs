//! Tests of the meta locator against tiny in-process HTTP servers on `127.0.0.1:0`.

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;

/// Serves `response` to every connection after reading the request head; counts connections.
async fn serve(response: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/meta/address", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 256];
                while find(&head, b"\r\n\r\n").is_none() {
                    match s.read(&mut b).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&b[..n]),
                    }
                }
                assert!(head.starts_with(b"GET /meta/address HTTP/1.1\r\n"));
                let _ = s.write_all(response).await;
            });
        }
    });
    (url, hits)
}

fn fast() -> LocatorConfig {
    LocatorConfig {
        attempt_delay: Duration::ZERO,
        ..LocatorConfig::default()
    }
}

#[tokio::test]
async fn good_body_is_parsed_as_host_port() {
    let (url, hits) =
        serve(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 17\r\n\r\n10.0.0.7:20880\r\n\r\n").await;
    let addr = MetaLocator::new(&url, fast())
        .unwrap()
        .locate()
        .await
        .unwrap();
    assert_eq!(addr.to_string(), "10.0.0.7:20880");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn chunked_and_close_delimited_bodies_are_understood() {
    let (url, _) = serve(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n127.0\r\n0A;x=y\r\n.0.1:20880\r\n0\r\n\r\n",
    )
    .await;
    let addr = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap();
    assert_eq!(addr.to_string(), "127.0.0.1:20880");

    let (url, _) = serve(b"HTTP/1.0 200 OK\r\n\r\n  meta:1234 ").await;
    let addr = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap();
    assert_eq!((addr.host(), addr.port()), ("meta", 1234));
}

#[tokio::test]
async fn not_found_is_retried_then_reported() {
    let (url, hits) = serve(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate()
        .await
        .unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    let ClientError::MetaLocateExhausted {
        attempts, source, ..
    } = &err
    else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(*attempts, 3);
    assert!(matches!(
        **source,
        ClientError::MetaHttpStatus { status: 404, .. }
    ));
    assert!(err.is_retriable());
}

#[tokio::test]
async fn garbage_body_is_a_bad_address() {
    let (url, _) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n<html></html>").await;
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MetaBadAddress { ref body, .. } if body == "<html></html>"));
}

#[tokio::test]
async fn non_http_garbage_is_malformed() {
    let (url, _) = serve(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MetaHttpMalformed { .. }),
        "{err:?}"
    );

    let (url, _) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort").await;
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MetaHttpMalformed { reason, .. } if reason.contains("closed")),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_response_is_refused() {
    static BIG: [u8; 20_000] = [b'a'; 20_000];
    let (url, _) = serve(&BIG).await;
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MetaHttpMalformed { .. }),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn silent_server_times_out_on_read() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/meta/address", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(s); // accept, never answer
        }
    });
    let started = Instant::now();
    let err = MetaLocator::new(&url, LocatorConfig::default())
        .unwrap()
        .locate()
        .await
        .unwrap_err();
    let ClientError::MetaLocateExhausted { source, .. } = &err else {
        panic!("unexpected {err:?}");
    };
    assert!(
        matches!(**source, ClientError::MetaReadTimeout { .. }),
        "{source:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // 3 × 500 ms read timeout + 2 × 100 ms between attempts, on the paused clock.
    assert_eq!(started.elapsed(), Duration::from_millis(1700));
}

#[tokio::test(start_paused = true)]
async fn dripping_server_hits_the_total_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/meta/address", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        // One byte every 400 ms: each read finishes within the 500 ms read timeout.
        loop {
            if s.write_all(b"H").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
    });
    let started = Instant::now();
    let err = MetaLocator::new(&url, LocatorConfig::default())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MetaReadTimeout { timeout, .. } if timeout == Duration::from_secs(5)),
        "{err:?}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/meta/address");
    let err = MetaLocator::new(&url, fast())
        .unwrap()
        .locate_once()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MetaConnect { .. }), "{err:?}");
}

#[test]
fn urls_are_parsed_and_validated() {
    let u = MetaUrl::parse("http://127.0.0.1:8080/meta/address").unwrap();
    assert_eq!(u.authority().to_string(), "127.0.0.1:8080");
    assert_eq!(u.path_and_query(), "/meta/address");
    let u = MetaUrl::parse("HTTP://meta.example?x=1#frag").unwrap();
    assert_eq!(u.authority().port(), 80);
    assert_eq!(u.path_and_query(), "/?x=1");
    let u = MetaUrl::parse("http://[::1]:9/a").unwrap();
    assert_eq!(u.authority().host(), "::1");
    let u = MetaUrl::parse("http://[::1]/a").unwrap();
    assert_eq!(u.authority().port(), 80);
    for bad in [
        "",
        "127.0.0.1:8080/meta",
        "https://h/meta",
        "http:///meta",
        "http://u:p@h/meta",
        "http://h:99999/",
        "http://h/a b",
    ] {
        assert!(
            matches!(MetaUrl::parse(bad), Err(ClientError::InvalidMetaUrl { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn partial_responses_need_more_bytes() {
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na:1";
    for cut in 0..full.len() {
        assert_eq!(
            parse_response(&full[..cut], false),
            Ok(None),
            "cut at {cut}"
        );
    }
    assert_eq!(
        parse_response(full, false),
        Ok(Some((200, b"a:1".to_vec())))
    );
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\na:1\r\n0\r\n\r\n";
    for cut in 0..chunked.len() - 2 {
        assert!(
            matches!(parse_response(&chunked[..cut], false), Ok(None)),
            "cut at {cut}"
        );
    }
    assert!(parse_response(b"HTTP/1.1 2x0 OK\r\n\r\n", true).is_err());
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nbroken\r\n\r\n", true).is_err());
    assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", true).is_err());
}
