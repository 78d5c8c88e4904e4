//! Helpers of the consumer tests: an in-process standalone server, consumers on it, and raw
//! SEND_MESSAGE through a `Connection` (independent of the producer).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use qmq_core::client::consumer::{Consumer, ConsumerContext};
use qmq_core::client::{
    ClientConfig, ClientId, Connection, ConnectionConfig, HostPort, MetaClient,
};
use qmq_core::protocol::frame::VERSION_9;
use qmq_core::protocol::message::FLAG_TAGS;
use qmq_core::protocol::names::attr;
use qmq_core::protocol::{
    ClientType, Message, MessageHeader, RequestCode, ResponseCode, SendMessageRequest,
    SendMessageResponse,
};
use qmq_server::standalone::{ServerConfig, StandaloneServer};
use tempfile::TempDir;
use tokio::runtime::Handle;

/// A standalone server on ephemeral ports with a fast retry delay; shut down on `stop`.
pub struct TestServer {
    pub server: Option<StandaloneServer>,
    _dir: TempDir,
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::for_tests(dir.path());
        config.broker.retry_delay_ms = 200;
        let server = StandaloneServer::start(config)
            .await
            .expect("server starts");
        Self {
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn meta_url(&self) -> String {
        self.server.as_ref().expect("running").meta_url()
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new("e2e");
        config.meta.url = self.meta_url();
        config
    }

    /// A consumer with its own client id on the current runtime.
    pub fn consumer(&self) -> Consumer {
        self.consumer_with(self.client_config())
    }

    pub fn consumer_with(&self, config: ClientConfig) -> Consumer {
        let handle = Handle::current();
        let client_id = ClientId::generate();
        let meta = MetaClient::new(&config, client_id.clone(), handle.clone()).expect("meta");
        Consumer::new(ConsumerContext {
            handle,
            config,
            client_id,
            meta,
        })
        .expect("consumer")
    }

    /// A raw sender for `subject`.
    pub async fn sender(&self, subject: &str) -> RawSender {
        let config = self.client_config();
        let handle = Handle::current();
        let meta = MetaClient::new(&config, ClientId::generate(), handle.clone()).expect("meta");
        let route = meta
            .route(ClientType::Producer, subject, "")
            .await
            .expect("producer route");
        let master = &route.broker_groups.first().expect("a broker group").master;
        let addr: HostPort = master.parse().expect("broker address");
        RawSender {
            subject: subject.to_owned(),
            conn: Connection::new(addr, ConnectionConfig::default(), handle),
            _meta: meta,
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A message of `subject` with attribute `body` and the given tags.
pub fn message(subject: &str, body: &str, tags: &[&str]) -> Message {
    let now = now_ms();
    let id = format!(
        "e2e.{}.{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    );
    Message {
        header: MessageHeader {
            flag: if tags.is_empty() { 0 } else { FLAG_TAGS },
            created_time: now,
            expire_or_schedule_time: now,
            subject: subject.to_owned(),
            message_id: id,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        },
        attrs: vec![
            (attr::CREATE_TIME.to_owned(), now.to_string()),
            ("body".to_owned(), body.to_owned()),
        ],
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub struct RawSender {
    subject: String,
    conn: Connection,
    _meta: MetaClient,
}

impl RawSender {
    /// Sends messages in one SEND_MESSAGE and asserts they were all stored.
    pub async fn send(&self, messages: &[Message]) {
        let mut body = BytesMut::new();
        SendMessageRequest::encode_messages(messages, &mut body);
        let frame = self
            .conn
            .request_with_timeout(
                RequestCode::SendMessage,
                VERSION_9,
                body.freeze(),
                Duration::from_secs(30),
            )
            .await
            .expect("send");
        assert_eq!(frame.header.code, ResponseCode::Success.as_i16());
        let (response, _) = SendMessageResponse::decode(&frame.body).expect("send response");
        assert!(response.failures.is_empty(), "{:?}", response.failures);
    }

    /// Sends one message with `body` and `tags`.
    pub async fn send_body(&self, body: &str, tags: &[&str]) -> Message {
        let m = message(&self.subject, body, tags);
        self.send(std::slice::from_ref(&m)).await;
        m
    }
}

/// Waits up to `limit` for `cond`, polling every 20 ms.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

/// A shared, lockable list for handlers to record into.
pub type Seen = Arc<std::sync::Mutex<Vec<Message>>>;

/// Bodies of the recorded messages other than warm-ups.
pub fn bodies(seen: &Seen) -> Vec<String> {
    seen.lock()
        .expect("lock")
        .iter()
        .filter_map(|m| m.attr("body").map(str::to_owned))
        .filter(|b| b != WARM_UP)
        .collect()
}

/// Body of the warm-up messages that prove a consumer group is registered on the broker (a new
/// group starts at the newest message, so tests send their messages only after one arrived).
pub const WARM_UP: &str = "warm-up";

/// Sends warm-up messages (with `tags`) until `seen` records one.
pub async fn warm_up(sender: &RawSender, seen: &Seen, tags: &[&str]) {
    for _ in 0..100 {
        sender.send_body(WARM_UP, tags).await;
        let got = eventually(Duration::from_millis(300), || {
            seen.lock()
                .expect("lock")
                .iter()
                .any(|m| m.attr("body") == Some(WARM_UP))
        })
        .await;
        if got {
            return;
        }
    }
    panic!("the consumer never received a warm-up message");
}

impl RawSender {
    /// One raw PULL (no ack) of `subject` for `group`, waiting up to 1 s.
    pub async fn pull_raw(&self, subject: &str, group: &str, n: i32) -> Vec<Message> {
        use qmq_core::protocol::{PullMessageResponse, PullRequest};
        let request = PullRequest {
            subject: subject.to_owned(),
            group: group.to_owned(),
            consumer_id: "e2e-raw-reader".to_owned(),
            request_num: n,
            offset: -1,
            pull_offset_begin: -1,
            pull_offset_last: -1,
            timeout_millis: 1000,
            is_broadcast: false,
            filters: Vec::new(),
        };
        let mut body = BytesMut::new();
        request.encode(VERSION_9, &mut body);
        let frame = self
            .conn
            .request_with_timeout(
                RequestCode::PullMessage,
                VERSION_9,
                body.freeze(),
                Duration::from_secs(10),
            )
            .await
            .expect("pull");
        if frame.header.code == ResponseCode::NoMessage.as_i16() {
            return Vec::new();
        }
        assert_eq!(frame.header.code, ResponseCode::Success.as_i16());
        PullMessageResponse::decode(&frame.body)
            .expect("pull response")
            .0
            .messages
    }
}
