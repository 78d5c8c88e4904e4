//! Tests of the meta client against an in-process fake meta server (HTTP locator + TCP).

use super::*;
use std::sync::atomic::{AtomicBool, AtomicI8, AtomicI64, AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::protocol::{Frame, Header};

/// A fake meta server: the locator answers the TCP address; TCP answers CLIENT_REGISTER
/// with the configured groups and records every request.
#[derive(Clone)]
struct FakeMeta {
    url: String,
    requests: Arc<Mutex<Vec<ClientRegisterRequest>>>,
    groups: Arc<Mutex<Vec<BrokerGroupInfo>>>,
    timestamp: Arc<AtomicI64>,
    offline: Arc<AtomicI8>,
    fail: Arc<AtomicBool>,
    tcp_conns: Arc<AtomicUsize>,
}

impl FakeMeta {
    async fn start() -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_addr = tcp.local_addr().unwrap();
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakeMeta {
            url: format!("http://{}/meta/address", http.local_addr().unwrap()),
            requests: Arc::default(),
            groups: Arc::new(Mutex::new(vec![group("g1", BrokerState::Rw)])),
            timestamp: Arc::new(AtomicI64::new(1)),
            offline: Arc::new(AtomicI8::new(0)),
            fail: Arc::default(),
            tcp_conns: Arc::default(),
        };
        tokio::spawn(async move {
            while let Ok((mut s, _)) = http.accept().await {
                let body = tcp_addr.to_string();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        let f = fake.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = tcp.accept().await {
                f.tcp_conns.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(f.clone().serve(s));
            }
        });
        fake
    }

    async fn serve(self, mut s: TcpStream) {
        let mut buf = BytesMut::new();
        loop {
            let frame = loop {
                if let Some(f) = Frame::decode_from(&mut buf, 1 << 20).unwrap() {
                    break f;
                }
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            };
            assert_eq!(frame.header.code, RequestCode::ClientRegister.as_i16());
            let (req, _) = ClientRegisterRequest::decode(&frame.body).unwrap();
            self.requests.lock().unwrap().push(req.clone());
            let mut out = BytesMut::new();
            if self.fail.load(Ordering::SeqCst) {
                Frame::empty_response(&frame.header, ResponseCode::BrokerError).encode(&mut out);
            } else {
                let resp = MetaInfoResponse {
                    timestamp: self.timestamp.load(Ordering::SeqCst),
                    subject: req.subject().to_owned(),
                    consumer_group: req.consumer_group().to_owned(),
                    on_offline_state: if self.offline.load(Ordering::SeqCst) == 1 {
                        OnOfflineState::Offline
                    } else {
                        OnOfflineState::Online
                    },
                    client_type: req.client_type(),
                    broker_groups: self.groups.lock().unwrap().clone(),
                };
                let mut body = BytesMut::new();
                resp.encode(&mut body);
                Frame::new(
                    Header::response_to(&frame.header, ResponseCode::Success),
                    body.freeze(),
                )
                .encode(&mut out);
            }
            if s.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    fn seen(&self) -> Vec<(ClientType, String, ClientRequestType)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| (r.client_type(), r.subject().to_owned(), r.request_type()))
            .collect()
    }

    fn set_groups(&self, groups: Vec<BrokerGroupInfo>) {
        *self.groups.lock().unwrap() = groups;
    }

    fn client(&self) -> MetaClient {
        let mut config = ClientConfig::new("test-app");
        config.meta.url = self.url.clone();
        MetaClient::new(
            &config,
            ClientId::from_seed("host", b"test"),
            Handle::current(),
        )
        .unwrap()
    }
}

fn group(name: &str, state: BrokerState) -> BrokerGroupInfo {
    BrokerGroupInfo {
        group_name: name.to_owned(),
        master: "127.0.0.1:20881".to_owned(),
        update_time: 0,
        state,
    }
}

fn names(route: &Route) -> Vec<&str> {
    route
        .broker_groups
        .iter()
        .map(|g| g.group_name.as_str())
        .collect()
}

#[tokio::test]
async fn first_lookup_registers_online_then_serves_from_cache() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    let route = client
        .route(ClientType::Producer, "order.created", "")
        .await
        .unwrap();
    assert_eq!(names(&route), ["g1"]);
    client
        .route(ClientType::Producer, "order.created", "")
        .await
        .unwrap();
    assert_eq!(
        meta.seen(),
        [(
            ClientType::Producer,
            "order.created".into(),
            ClientRequestType::Online
        )]
    );
    let req = meta.requests.lock().unwrap()[0].clone();
    assert_eq!(req.app_code(), "test-app");
    assert_eq!(req.client_id(), client.client_id().as_str());
    assert_eq!(req.consumer_group(), "");
}

#[tokio::test]
async fn a_second_group_on_a_cached_subject_still_registers() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    client.route(ClientType::Consumer, "s", "g1").await.unwrap();
    client.route(ClientType::Consumer, "s", "g2").await.unwrap();
    client.route(ClientType::Consumer, "s", "g2").await.unwrap();
    let groups: Vec<String> = meta
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.consumer_group().to_owned())
        .collect();
    assert_eq!(groups, ["g1", "g2"]);
}

#[tokio::test]
async fn refresh_sends_a_heartbeat_and_replaces_the_route() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    client
        .route(ClientType::Consumer, "s", "grp")
        .await
        .unwrap();
    meta.set_groups(vec![
        group("g2", BrokerState::Rw),
        group("g3", BrokerState::R),
    ]);
    let route = client
        .refresh(ClientType::Consumer, "s", "grp")
        .await
        .unwrap();
    assert_eq!(names(&route), ["g2", "g3"]);
    assert_eq!(meta.seen()[1].2, ClientRequestType::Heartbeat);
    assert_eq!(
        names(&client.cached_route(ClientType::Consumer, "s").unwrap()),
        ["g2", "g3"]
    );
    assert_eq!(
        meta.tcp_conns.load(Ordering::SeqCst),
        1,
        "one multiplexed connection"
    );
}

#[tokio::test]
async fn routes_keep_only_groups_that_can_serve_the_client() {
    let meta = FakeMeta::start().await;
    meta.set_groups(vec![
        group("rw", BrokerState::Rw),
        group("r", BrokerState::R),
        group("w", BrokerState::W),
        group("nrw", BrokerState::Nrw),
    ]);
    let client = meta.client();
    let p = client.route(ClientType::Producer, "s", "").await.unwrap();
    assert_eq!(names(&p), ["rw", "w"]);
    let d = client
        .route(ClientType::DelayProducer, "s", "")
        .await
        .unwrap();
    assert_eq!(names(&d), ["rw", "w"]);
    let c = client.route(ClientType::Consumer, "s", "g").await.unwrap();
    assert_eq!(names(&c), ["rw", "r"]);
}

#[tokio::test]
async fn producers_ignore_answers_without_groups() {
    let meta = FakeMeta::start().await;
    meta.set_groups(vec![]);
    let client = meta.client();
    let err = client
        .route(ClientType::Producer, "s", "")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoRoute { .. }), "{err:?}");
    assert!(err.is_retriable());
    meta.set_groups(vec![group("g1", BrokerState::Rw)]);
    client.route(ClientType::Producer, "s", "").await.unwrap();
    meta.set_groups(vec![group("ro", BrokerState::R)]);
    let route = client.refresh(ClientType::Producer, "s", "").await.unwrap();
    assert_eq!(names(&route), ["g1"], "the last usable route is kept");
    // Consumers take an empty answer as it is.
    meta.set_groups(vec![]);
    let c = client.route(ClientType::Consumer, "s", "g").await.unwrap();
    assert!(c.broker_groups.is_empty());
}

#[tokio::test(start_paused = true)]
async fn every_registration_is_re_sent_each_interval() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    client.route(ClientType::Producer, "a", "").await.unwrap();
    client.route(ClientType::Consumer, "b", "g").await.unwrap();
    meta.set_groups(vec![group("new", BrokerState::Rw)]);
    tokio::time::sleep(Duration::from_secs(61)).await;
    let beats: Vec<_> = meta.seen().into_iter().skip(2).collect();
    assert_eq!(beats.len(), 2, "{beats:?}");
    assert!(
        beats
            .iter()
            .all(|(_, _, t)| *t == ClientRequestType::Heartbeat)
    );
    assert_eq!(
        names(&client.cached_route(ClientType::Producer, "a").unwrap()),
        ["new"]
    );
    // Fresh from the heartbeat: no extra request.
    client.route(ClientType::Producer, "a", "").await.unwrap();
    assert_eq!(meta.seen().len(), 4);
    client.close();
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(meta.seen().len(), 4, "no heartbeats after close");
}

#[tokio::test(start_paused = true)]
async fn a_stale_route_is_served_while_meta_fails() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    client.route(ClientType::Producer, "s", "").await.unwrap();
    meta.fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(61)).await;
    let route = client.route(ClientType::Producer, "s", "").await.unwrap();
    assert_eq!(names(&route), ["g1"]);
    let err = client
        .refresh(ClientType::Producer, "s", "")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::ServerResponse {
                code: 51,
                request: 35,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rejected_registration_is_an_error() {
    let meta = FakeMeta::start().await;
    meta.timestamp.store(-2, Ordering::SeqCst);
    let err = meta
        .client()
        .route(ClientType::Producer, "s", "")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::MetaRejected { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_names_are_refused_locally() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    for (subject, group) in [("", ""), ("a b", ""), ("a/b", ""), ("s", "bad group")] {
        let err = client
            .route(ClientType::Consumer, subject, group)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::InvalidName { .. }), "{err:?}");
    }
    assert!(meta.seen().is_empty());
}

#[tokio::test]
async fn consumer_state_follows_the_newest_answer() {
    let meta = FakeMeta::start().await;
    let client = meta.client();
    meta.timestamp.store(10, Ordering::SeqCst);
    meta.offline.store(1, Ordering::SeqCst);
    client.route(ClientType::Consumer, "s", "g").await.unwrap();
    assert_eq!(
        client.consumer_state("s", "g"),
        Some(OnOfflineState::Offline)
    );
    // An older answer does not override.
    meta.timestamp.store(5, Ordering::SeqCst);
    meta.offline.store(0, Ordering::SeqCst);
    client
        .refresh(ClientType::Consumer, "s", "g")
        .await
        .unwrap();
    assert_eq!(
        client.consumer_state("s", "g"),
        Some(OnOfflineState::Offline)
    );
    meta.timestamp.store(11, Ordering::SeqCst);
    client
        .refresh(ClientType::Consumer, "s", "g")
        .await
        .unwrap();
    assert_eq!(
        client.consumer_state("s", "g"),
        Some(OnOfflineState::Online)
    );
    // Retry subjects do not carry the consumer state.
    client
        .route(ClientType::Consumer, "%RETRY%s%g2", "g2")
        .await
        .unwrap();
    assert_eq!(client.consumer_state("%RETRY%s%g2", "g2"), None);
}

#[tokio::test]
async fn unreachable_meta_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut config = ClientConfig::new("app");
    config.meta.url = format!("http://{addr}/meta/address");
    config.meta.locator.attempt_delay = Duration::ZERO;
    let client = MetaClient::new(&config, ClientId::generate(), Handle::current()).unwrap();
    let err = client
        .route(ClientType::Producer, "s", "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::MetaLocateExhausted { attempts: 3, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn invalid_config_is_rejected() {
    let err = MetaClient::new(
        &ClientConfig::default(),
        ClientId::generate(),
        Handle::current(),
    )
    .unwrap_err();
    assert!(matches!(err, ClientError::Config(ref e) if e.key() == "app_code"));
}
