//! Helpers for the producer tests: an in-process standalone server and a raw puller that reads
//! what the producer stored (independent of the consumer implementation).

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use qmq_core::client::{Client, ClientConfig, Connection, ConnectionConfig, HostPort};
use qmq_core::protocol::frame::VERSION_9;
use qmq_core::protocol::{
    AckRequest, Message, PullFilter, PullMessageResponse, PullRequest, RequestCode, ResponseCode,
};
use qmq_server::standalone::{ServerConfig, StandaloneServer};
use tokio::runtime::Handle;

/// Ports of a server, to restart it on the same ones.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    pub meta_http: u16,
    pub meta_tcp: u16,
    pub broker: u16,
}

/// Starts a standalone server in `dir`, on `ports` or ephemeral ones.
pub async fn start_server(dir: &Path, ports: Option<Ports>) -> (StandaloneServer, Ports) {
    let mut config = ServerConfig::for_tests(dir);
    if let Some(p) = ports {
        config.meta.http_port = p.meta_http;
        config.meta.tcp_port = p.meta_tcp;
        config.broker.port = p.broker;
    }
    let server = StandaloneServer::start(config)
        .await
        .expect("server starts");
    let ports = Ports {
        meta_http: server.ports.meta_http.expect("meta http port"),
        meta_tcp: server.ports.meta_tcp.expect("meta tcp port"),
        broker: server.ports.broker.expect("broker port"),
    };
    (server, ports)
}

/// A client configuration pointing at `server`.
pub fn client_config(server: &StandaloneServer) -> ClientConfig {
    let mut config = ClientConfig::new("e2e-producer");
    config.meta.url = server.meta_url();
    config
}

/// A client for `server`.
pub fn client(server: &StandaloneServer) -> Client {
    Client::new(client_config(server)).expect("client starts")
}

/// Pulls with raw PULL_MESSAGE requests straight from the broker.
pub struct Puller {
    conn: Connection,
    group: String,
    consumer: String,
}

impl Puller {
    /// A puller for `group` on the broker at `port`.
    pub fn new(port: u16, group: &str) -> Self {
        let addr = HostPort::new("127.0.0.1", port).expect("address");
        Self {
            conn: Connection::new(addr, ConnectionConfig::default(), Handle::current()),
            group: group.to_owned(),
            consumer: format!("{group}-consumer@@1"),
        }
    }

    /// Pulls once; a new group starts at the latest message, so call this before sending.
    pub async fn subscribe(&self, subject: &str) {
        let _ = self.pull(subject, 1, 0, Vec::new()).await;
    }

    async fn pull(
        &self,
        subject: &str,
        n: i32,
        timeout_ms: i64,
        filters: Vec<PullFilter>,
    ) -> Vec<Message> {
        let req = PullRequest {
            subject: subject.into(),
            group: self.group.clone(),
            consumer_id: self.consumer.clone(),
            request_num: n,
            offset: -1,
            pull_offset_begin: -1,
            pull_offset_last: -1,
            timeout_millis: timeout_ms,
            is_broadcast: false,
            filters,
        };
        let mut body = BytesMut::new();
        req.encode(VERSION_9, &mut body);
        let Ok(frame) = self
            .conn
            .request_with_timeout(
                RequestCode::PullMessage,
                VERSION_9,
                body.freeze(),
                Duration::from_millis(timeout_ms.max(0) as u64 + 5000),
            )
            .await
        else {
            return Vec::new();
        };
        if frame.header.code != ResponseCode::Success.as_i16() {
            return Vec::new();
        }
        let resp = PullMessageResponse::decode(&frame.body)
            .expect("pull response decodes")
            .0;
        if !resp.messages.is_empty() {
            // Unacked messages would be handed out again by the next pull.
            let last = resp.pull_log_offset + resp.messages.len() as i64 - 1;
            self.ack(subject, resp.pull_log_offset, last).await;
        }
        resp.messages
    }

    async fn ack(&self, subject: &str, first: i64, last: i64) {
        let req = AckRequest {
            subject: subject.into(),
            group: self.group.clone(),
            consumer_id: self.consumer.clone(),
            pull_offset_begin: first,
            pull_offset_last: last,
            is_broadcast: false,
        };
        let mut body = BytesMut::new();
        req.encode(VERSION_9, &mut body);
        let frame = self
            .conn
            .request(RequestCode::AckRequest, VERSION_9, body.freeze())
            .await
            .expect("ack answered");
        assert_eq!(frame.header.code, ResponseCode::Success.as_i16(), "ack");
    }

    /// Pulls until `n` messages arrived or `within` passed.
    pub async fn pull_n(
        &self,
        subject: &str,
        n: usize,
        filters: Vec<PullFilter>,
        within: Duration,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        let end = Instant::now() + within;
        while out.len() < n && Instant::now() < end {
            let want = (n - out.len()).min(1000) as i32;
            out.extend(self.pull(subject, want, 500, filters.clone()).await);
        }
        out
    }
}
