//! The net layer against real sockets: bad input on one connection never disturbs another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, VERSION_9};
use qmq_core::protocol::{Frame, Header, RequestCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::{FrameHandler, NetConfig, serve};

/// Echoes PULL bodies back after an optional delay taken from the body's first byte.
struct Echo;

impl FrameHandler for Echo {
    async fn handle(&self, request: Frame, _peer: SocketAddr) -> Option<Frame> {
        if let Some(&ms) = request.body.first() {
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
        }
        Some(Frame::new(
            Header::response_to(&request.header, ResponseCode::Success),
            request.body,
        ))
    }

    fn accepts(&self, code: RequestCode) -> bool {
        code == RequestCode::PullMessage
    }
}

async fn start(config: NetConfig) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve(listener, Arc::new(Echo), config, token.clone()));
    (addr, token)
}

fn request(code: i16, opaque: i32, body: &'static [u8]) -> BytesMut {
    let header = Header {
        code,
        version: VERSION_9,
        opaque,
        flag: 0,
        request_code: code,
    };
    let mut buf = BytesMut::new();
    Frame::new(header, Bytes::from_static(body)).encode(&mut buf);
    buf
}

async fn read_frame(stream: &mut TcpStream) -> Option<Frame> {
    let mut buf = BytesMut::new();
    loop {
        if let Some(frame) = Frame::decode_from(&mut buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
            return Some(frame);
        }
        if stream.read_buf(&mut buf).await.unwrap() == 0 {
            return None;
        }
    }
}

#[tokio::test]
async fn unknown_code_and_heartbeat_are_answered_by_the_net_layer() {
    let (addr, token) = start(NetConfig::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request(999, 1, b"")).await.unwrap();
    let reply = read_frame(&mut s).await.unwrap();
    assert_eq!((reply.header.code, reply.header.opaque), (3, 1));
    assert!(reply.header.is_response());
    s.write_all(&request(100, 2, b"")).await.unwrap();
    let reply = read_frame(&mut s).await.unwrap();
    assert_eq!(
        (
            reply.header.code,
            reply.header.opaque,
            reply.header.request_code
        ),
        (0, 2, 100)
    );
    token.cancel();
}

#[tokio::test]
async fn slow_request_does_not_block_later_ones_on_the_same_connection() {
    let (addr, token) = start(NetConfig::default()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request(11, 1, &[200])).await.unwrap();
    s.write_all(&request(11, 2, &[0])).await.unwrap();
    assert_eq!(read_frame(&mut s).await.unwrap().header.opaque, 2);
    assert_eq!(read_frame(&mut s).await.unwrap().header.opaque, 1);
    token.cancel();
}

#[tokio::test]
async fn misbehaving_clients_leave_a_good_client_served() {
    let config = NetConfig {
        max_frame_bytes: 1024,
        ..NetConfig::default()
    };
    let (addr, token) = start(config).await;
    let mut good = TcpStream::connect(addr).await.unwrap();

    let mut bad_magic = TcpStream::connect(addr).await.unwrap();
    let mut frame = request(11, 1, b"\0x");
    frame[6] = 0;
    bad_magic.write_all(&frame).await.unwrap();
    assert!(read_frame(&mut bad_magic).await.is_none(), "closed");

    let mut oversized = TcpStream::connect(addr).await.unwrap();
    oversized
        .write_all(&[0, 1, 0, 0, 0, 18, 0xde, 0xc1, 0x0a, 0xde])
        .await
        .unwrap();
    assert!(read_frame(&mut oversized).await.is_none(), "closed");

    let mut truncated = TcpStream::connect(addr).await.unwrap();
    truncated
        .write_all(&request(11, 1, b"\0abc")[..20])
        .await
        .unwrap();
    drop(truncated);

    let mut short = TcpStream::connect(addr).await.unwrap();
    short
        .write_all(&[0, 0, 0, 3, 0, 18, 0xde, 0xc1, 0x0a, 0xde])
        .await
        .unwrap();
    assert!(read_frame(&mut short).await.is_none(), "closed");

    good.write_all(&request(11, 7, b"\0ok")).await.unwrap();
    let reply = read_frame(&mut good).await.unwrap();
    assert_eq!((reply.header.opaque, &reply.body[..]), (7, &b"\0ok"[..]));
    token.cancel();
}
