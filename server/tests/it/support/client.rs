//! A minimal test client on the wire codec: one connection, requests answered in turn.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, VERSION_9};
use qmq_core::protocol::message::{FLAG_TAGS, MessageHeader};
use qmq_core::protocol::{
    AckRequest, ClientRegisterRequest, ClientRequestType, ClientType, Frame, Header, Message,
    MetaInfoResponse, PullFilter, PullMessageResponse, PullRequest, RequestCode, ResponseCode,
    SendMessageRequest, SendMessageResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

static OPAQUE: AtomicI32 = AtomicI32::new(1);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A message as the Java producer builds it.
pub fn message(subject: &str, id: &str, tags: &[&str], attrs: &[(&str, &str)]) -> Message {
    let now = now_ms();
    let mut m = Message {
        header: MessageHeader {
            flag: if tags.is_empty() { 0 } else { FLAG_TAGS },
            created_time: now,
            expire_or_schedule_time: now,
            subject: subject.into(),
            message_id: id.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        },
        attrs: Vec::new(),
    };
    m.set_attr("qmq_createTime", now.to_string());
    for (k, v) in attrs {
        m.set_attr(*k, *v);
    }
    m
}

pub struct TestClient {
    stream: TcpStream,
    buf: BytesMut,
}

impl TestClient {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Self {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub async fn request(&mut self, code: RequestCode, version: i16, body: BytesMut) -> Frame {
        let opaque = OPAQUE.fetch_add(1, Ordering::Relaxed);
        let mut out = BytesMut::new();
        Frame::new(Header::request(code, version, opaque), body.freeze()).encode(&mut out);
        self.stream.write_all(&out).await.expect("write");
        let frame = tokio::time::timeout(Duration::from_secs(30), self.read_frame())
            .await
            .expect("response within 30 s")
            .expect("connection open");
        assert_eq!(frame.header.opaque, opaque);
        assert!(frame.header.is_response());
        frame
    }

    pub async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = Frame::decode_from(&mut self.buf, DEFAULT_MAX_FRAME_LEN).unwrap() {
                return Some(frame);
            }
            if self.stream.read_buf(&mut self.buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    pub async fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends messages; returns the failures.
    pub async fn send(&mut self, messages: &[Message]) -> SendMessageResponse {
        let mut body = BytesMut::new();
        SendMessageRequest::encode_messages(messages, &mut body);
        let reply = self
            .request(RequestCode::SendMessage, VERSION_9, body)
            .await;
        assert_eq!(
            reply.header.code,
            ResponseCode::Success.as_i16(),
            "send answered"
        );
        SendMessageResponse::decode(&reply.body).unwrap().0
    }

    pub async fn pull(&mut self, req: &PullRequest) -> Option<PullMessageResponse> {
        let mut body = BytesMut::new();
        req.encode(VERSION_9, &mut body);
        let reply = self
            .request(RequestCode::PullMessage, VERSION_9, body)
            .await;
        if reply.header.code == ResponseCode::NoMessage.as_i16() {
            return None;
        }
        assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
        Some(PullMessageResponse::decode(&reply.body).unwrap().0)
    }

    pub async fn ack(&mut self, req: &AckRequest) -> i16 {
        let mut body = BytesMut::new();
        req.encode(VERSION_9, &mut body);
        self.request(RequestCode::AckRequest, VERSION_9, body)
            .await
            .header
            .code
    }

    pub async fn register(
        &mut self,
        subject: &str,
        client_type: ClientType,
        group: &str,
    ) -> MetaInfoResponse {
        let req = ClientRegisterRequest::new(
            subject,
            client_type,
            "test",
            "test-client@@1",
            group,
            ClientRequestType::Online,
        );
        let mut body = BytesMut::new();
        req.encode(&mut body);
        let reply = self
            .request(RequestCode::ClientRegister, VERSION_9, body)
            .await;
        assert_eq!(reply.header.code, 0);
        MetaInfoResponse::decode(&reply.body).unwrap().0
    }
}

/// A pull request with the Java client's defaults.
pub fn pull_request(
    subject: &str,
    group: &str,
    consumer: &str,
    n: i32,
    timeout_ms: i64,
) -> PullRequest {
    PullRequest {
        subject: subject.into(),
        group: group.into(),
        consumer_id: consumer.into(),
        request_num: n,
        offset: -1,
        pull_offset_begin: -1,
        pull_offset_last: -1,
        timeout_millis: timeout_ms,
        is_broadcast: false,
        filters: Vec::<PullFilter>::new(),
    }
}

pub fn ack_request(
    subject: &str,
    group: &str,
    consumer: &str,
    first: i64,
    last: i64,
) -> AckRequest {
    AckRequest {
        subject: subject.into(),
        group: group.into(),
        consumer_id: consumer.into(),
        pull_offset_begin: first,
        pull_offset_last: last,
        is_broadcast: false,
    }
}

#[allow(dead_code)]
pub fn body(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

impl TestClient {
    /// Sends an empty request with an arbitrary code.
    pub async fn request_code(&mut self, code: i16) -> Frame {
        let opaque = OPAQUE.fetch_add(1, Ordering::Relaxed);
        let header = Header {
            code,
            version: VERSION_9,
            opaque,
            flag: 0,
            request_code: code,
        };
        let mut out = BytesMut::new();
        Frame::new(header, Bytes::new()).encode(&mut out);
        self.stream.write_all(&out).await.expect("write");
        self.read_frame().await.expect("reply")
    }
}
