//! Tests of the multiplexed connection against in-process servers speaking the QMQ framing.

use super::*;
use std::future::Future;
use std::sync::atomic::AtomicUsize;
use tokio::net::TcpListener;

use crate::protocol::ResponseCode;
use crate::protocol::frame::VERSION_9;

/// Accepts connections forever, running `per_conn` on each; counts connections.
async fn server<F, Fut>(per_conn: F) -> (HostPort, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(per_conn(s));
        }
    });
    (HostPort::new("127.0.0.1", port).unwrap(), count)
}

async fn read_frame(s: &mut TcpStream, buf: &mut BytesMut) -> Option<Frame> {
    loop {
        if let Some(f) = Frame::decode_from(buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
            return Some(f);
        }
        match s.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

async fn write_frame(s: &mut TcpStream, f: &Frame) {
    let mut out = BytesMut::new();
    f.encode(&mut out);
    let _ = s.write_all(&out).await;
}

fn answer(req: &Frame) -> Frame {
    Frame::new(
        Header::response_to(&req.header, ResponseCode::Success),
        req.body.clone(),
    )
}

async fn echo(mut s: TcpStream) {
    let mut buf = BytesMut::new();
    while let Some(req) = read_frame(&mut s, &mut buf).await {
        if !req.header.is_one_way() {
            write_frame(&mut s, &answer(&req)).await;
        }
    }
}

fn conn(addr: HostPort) -> Connection {
    Connection::new(addr, ConnectionConfig::default(), Handle::current())
}

async fn ask(c: &Connection, body: &'static [u8]) -> Result<Frame, ClientError> {
    c.request(
        RequestCode::PullMessage,
        VERSION_9,
        Bytes::from_static(body),
    )
    .await
}

#[tokio::test]
async fn responses_are_matched_by_opaque() {
    let (addr, _) = server(echo).await;
    let c = conn(addr);
    let f = ask(&c, b"hello").await.unwrap();
    assert_eq!(&f.body[..], b"hello");
    assert_eq!(f.header.request_code, RequestCode::PullMessage.as_i16());
    let calls = (0..200u32).map(|i| {
        let c = c.clone();
        async move {
            let body = Bytes::from(i.to_be_bytes().to_vec());
            let f = c
                .request(RequestCode::SendMessage, VERSION_9, body.clone())
                .await
                .unwrap();
            assert_eq!(f.body, body);
        }
    });
    futures_join_all(calls).await;
}

/// Minimal join_all so the tests need no futures crate.
async fn futures_join_all<F: Future<Output = ()> + Send + 'static>(futs: impl Iterator<Item = F>) {
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::test]
async fn out_of_order_responses_reach_their_requests() {
    let (addr, _) = server(|mut s: TcpStream| async move {
        let mut buf = BytesMut::new();
        let mut reqs = Vec::new();
        for _ in 0..3 {
            reqs.push(read_frame(&mut s, &mut buf).await.unwrap());
        }
        for req in reqs.iter().rev() {
            write_frame(&mut s, &answer(req)).await;
        }
        std::future::pending::<()>().await;
    })
    .await;
    let c = conn(addr);
    let (a, b, d) = tokio::join!(ask(&c, b"a"), ask(&c, b"b"), ask(&c, b"c"));
    assert_eq!(
        (
            &a.unwrap().body[..],
            &b.unwrap().body[..],
            &d.unwrap().body[..]
        ),
        (&b"a"[..], &b"b"[..], &b"c"[..])
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_request_leaves_the_connection_usable() {
    // Answers every request except the first, whose answer comes after the timeout.
    let (addr, _) = server(|mut s: TcpStream| async move {
        let mut buf = BytesMut::new();
        let first = read_frame(&mut s, &mut buf).await.unwrap();
        let second = read_frame(&mut s, &mut buf).await.unwrap();
        write_frame(&mut s, &answer(&first)).await; // late: its waiter is gone
        write_frame(&mut s, &answer(&second)).await;
        echo(s).await;
    })
    .await;
    let c = conn(addr);
    let err = c
        .request_with_timeout(
            RequestCode::PullMessage,
            VERSION_9,
            Bytes::from_static(b"slow"),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::RequestTimeout {
                opaque: 0,
                code: 11,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(&ask(&c, b"second").await.unwrap().body[..], b"second");
    assert_eq!(&ask(&c, b"third").await.unwrap().body[..], b"third");
}

#[tokio::test]
async fn server_close_fails_waiters_and_the_next_request_reconnects() {
    let (addr, conns) = server(|mut s: TcpStream| async move {
        let mut buf = BytesMut::new();
        let req = read_frame(&mut s, &mut buf).await.unwrap();
        if &req.body[..] == b"die" {
            return; // drop the socket without answering
        }
        write_frame(&mut s, &answer(&req)).await;
        echo(s).await;
    })
    .await;
    let c = conn(addr);
    let err = ask(&c, b"die").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ConnectionLost {
                cause: ConnectionLostCause::Eof | ConnectionLostCause::Io(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retriable());
    assert_eq!(&ask(&c, b"again").await.unwrap().body[..], b"again");
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn garbage_from_the_server_is_a_protocol_loss() {
    let (addr, _) = server(|mut s: TcpStream| async move {
        let mut buf = BytesMut::new();
        let _ = read_frame(&mut s, &mut buf).await;
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        std::future::pending::<()>().await;
    })
    .await;
    let err = ask(&conn(addr), b"x").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ConnectionLost {
                cause: ConnectionLostCause::Protocol(ProtocolError::BadMagic { .. }),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn close_fails_outstanding_and_later_requests() {
    let (got_tx, got_rx) = oneshot::channel::<()>();
    let got_tx = Arc::new(Mutex::new(Some(got_tx)));
    let (addr, _) = server(move |mut s: TcpStream| {
        let got_tx = got_tx.clone();
        async move {
            let mut buf = BytesMut::new();
            while read_frame(&mut s, &mut buf).await.is_some() {
                // Never answers; tells the test the request is outstanding.
                if let Some(tx) = got_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        }
    })
    .await;
    let c = conn(addr);
    let pending = tokio::spawn({
        let c = c.clone();
        async move { ask(&c, b"x").await }
    });
    got_rx.await.unwrap();
    c.close();
    let err = pending.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ClientError::ConnectionClosed { .. }),
        "{err:?}"
    );
    assert!(!err.is_retriable());
    assert!(matches!(
        ask(&c, b"y").await,
        Err(ClientError::ConnectionClosed { .. })
    ));
    assert!(c.is_closed());
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_socket() {
    let (eof_tx, eof_rx) = oneshot::channel::<()>();
    let eof_tx = Arc::new(Mutex::new(Some(eof_tx)));
    let (addr, _) = server(move |mut s: TcpStream| {
        let eof_tx = eof_tx.clone();
        async move {
            let mut buf = BytesMut::new();
            while let Some(req) = read_frame(&mut s, &mut buf).await {
                write_frame(&mut s, &answer(&req)).await;
            }
            if let Some(tx) = eof_tx.lock().unwrap().take() {
                let _ = tx.send(());
            }
        }
    })
    .await;
    let c = conn(addr);
    ask(&c, b"x").await.unwrap();
    drop(c);
    tokio::time::timeout(Duration::from_secs(5), eof_rx)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn one_way_requests_carry_the_flag() {
    let (seen_tx, seen_rx) = oneshot::channel::<Header>();
    let seen_tx = Arc::new(Mutex::new(Some(seen_tx)));
    let (addr, _) = server(move |mut s: TcpStream| {
        let seen_tx = seen_tx.clone();
        async move {
            let mut buf = BytesMut::new();
            if let Some(req) = read_frame(&mut s, &mut buf).await {
                if let Some(tx) = seen_tx.lock().unwrap().take() {
                    let _ = tx.send(req.header);
                }
            }
        }
    })
    .await;
    let c = conn(addr);
    c.send_one_way(RequestCode::AckRequest, VERSION_9, Bytes::new())
        .await
        .unwrap();
    let h = seen_rx.await.unwrap();
    assert!(h.is_one_way() && !h.is_response());
    assert_eq!(h.code, RequestCode::AckRequest.as_i16());
}

#[tokio::test]
async fn refused_connect_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = ask(&conn(HostPort::new("127.0.0.1", port).unwrap()), b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn oversized_request_is_refused_before_sending() {
    let (addr, conns) = server(echo).await;
    let c = Connection::new(
        addr,
        ConnectionConfig {
            max_frame_len: 64,
            ..ConnectionConfig::default()
        },
        Handle::current(),
    );
    let err = c
        .request(
            RequestCode::SendMessage,
            VERSION_9,
            Bytes::from(vec![0u8; 100]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Protocol {
                source: ProtocolError::FrameTooLarge { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(conns.load(Ordering::SeqCst), 0);
}

#[test]
fn config_is_validated() {
    assert_eq!(ConnectionConfig::default().validate(), Ok(()));
    let bad = ConnectionConfig {
        write_queue: 0,
        ..ConnectionConfig::default()
    };
    assert_eq!(bad.validate().unwrap_err().key(), "connection.write_queue");
}
