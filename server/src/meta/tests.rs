//! End-to-end tests of the meta role: encoded frames in, encoded frames out, no sockets.
//! Time is tokio's paused clock.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qmq_core::protocol::frame::{FLAG_ONE_WAY, VERSION_8, VERSION_9};
use qmq_core::protocol::{
    BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRegisterRequest, BrokerRequestType,
    BrokerRole, BrokerState, ClientRegisterRequest, ClientRequestType, ClientType, Frame, Header,
    MetaInfoResponse, OnOfflineState, RequestCode, ResponseCode,
};
use tokio_util::sync::CancellationToken;

use super::config::{BrokerEntry, ConfiguredRole};
use super::store::GroupState;
use super::{MetaConfig, MetaHandler, MetaServer};

const TIMEOUT: Duration = Duration::from_secs(30);

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn open(dir: &Path) -> MetaHandler {
    MetaServer::open(MetaConfig::default(), dir)
        .unwrap()
        .handler()
}

/// A Java-style raw broker→meta header: version 8, requestCode −1.
fn raw_header(code: RequestCode, opaque: i32) -> Header {
    Header {
        request_code: -1,
        ..Header::request(code, VERSION_8, opaque)
    }
}

async fn broker(
    h: &MetaHandler,
    request_type: BrokerRequestType,
    group: &str,
    role: BrokerRole,
    state: BrokerState,
) -> Frame {
    let req = BrokerRegisterRequest {
        request_type,
        group_name: group.into(),
        broker_address: format!("10.0.0.{}:20881", group.len()),
        broker_role: role,
        broker_state: state,
    };
    let mut body = BytesMut::new();
    req.encode(&mut body);
    let frame = Frame::new(raw_header(RequestCode::BrokerRegister, 7), body.freeze());
    h.dispatch(frame, peer()).await.unwrap()
}

async fn master_online(h: &MetaHandler, group: &str) {
    let rsp = broker(
        h,
        BrokerRequestType::Online,
        group,
        BrokerRole::Master,
        BrokerState::Rw,
    )
    .await;
    assert_eq!(rsp.header.code, ResponseCode::Success.as_i16());
}

async fn client(
    h: &MetaHandler,
    subject: &str,
    client_type: ClientType,
    group: &str,
) -> MetaInfoResponse {
    let req = ClientRegisterRequest::new(
        subject,
        client_type,
        "app",
        "client-1",
        group,
        ClientRequestType::Online,
    );
    let mut body = BytesMut::new();
    req.encode(&mut body);
    let frame = Frame::new(
        Header::request(RequestCode::ClientRegister, VERSION_9, 1234),
        body.freeze(),
    );
    let rsp = h.dispatch(frame, peer()).await.unwrap();
    assert_eq!(rsp.header.code, ResponseCode::Success.as_i16());
    assert_eq!(rsp.header.opaque, 1234);
    assert_eq!(rsp.header.version, VERSION_9);
    assert!(rsp.header.is_response());
    MetaInfoResponse::decode(&rsp.body).unwrap().0
}

fn names(rsp: &MetaInfoResponse) -> Vec<&str> {
    rsp.broker_groups
        .iter()
        .map(|g| g.group_name.as_str())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn producer_gets_two_groups_on_first_use_and_the_same_ones_later() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    for g in ["a", "b", "c"] {
        master_online(&h, g).await;
    }
    let first = client(&h, "order.changed", ClientType::Producer, "").await;
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first.subject, "order.changed");
    assert_eq!(first.on_offline_state, OnOfflineState::Online);
    assert_eq!(first.client_type, ClientType::Producer);
    assert_eq!(first.broker_groups[0].master, "10.0.0.1:20881");
    assert_eq!(first.broker_groups[0].state, BrokerState::Rw);
    assert!(first.timestamp > 0);
    master_online(&h, "d").await;
    let later = client(&h, "order.changed", ClientType::Producer, "").await;
    assert_eq!(names(&later), ["a", "b"]);
    let other = client(&h, "other", ClientType::Producer, "").await;
    assert_eq!(names(&other), ["c", "d"]);
}

#[tokio::test(start_paused = true)]
async fn consumer_and_its_retry_subject_use_the_real_subject_route() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "a").await;
    master_online(&h, "b").await;
    let producer = client(&h, "s", ClientType::Producer, "").await;
    let consumer = client(&h, "s", ClientType::Consumer, "g1").await;
    let retry = client(&h, "%RETRY%s%g1", ClientType::Consumer, "g1").await;
    assert_eq!(names(&consumer), names(&producer));
    assert_eq!(names(&retry), names(&producer));
    assert_eq!(retry.subject, "%RETRY%s%g1");
    assert_eq!(retry.consumer_group, "g1");
    let state = h.server().snapshot();
    assert_eq!(state.route("%RETRY%s%g1"), None);
    assert!(state.consumer_groups("s").unwrap().contains("g1"));
    assert_eq!(state.clients().count(), 3);
}

#[tokio::test(start_paused = true)]
async fn delay_producer_gets_up_to_two_delay_groups() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "n1").await;
    let none = client(&h, "s", ClientType::DelayProducer, "").await;
    assert!(none.broker_groups.is_empty());
    for g in ["d1", "d2", "d3"] {
        broker(
            &h,
            BrokerRequestType::Online,
            g,
            BrokerRole::DelayMaster,
            BrokerState::Rw,
        )
        .await;
    }
    let rsp = client(&h, "s", ClientType::DelayProducer, "").await;
    assert_eq!(rsp.broker_groups.len(), 2);
    assert!(names(&rsp).iter().all(|n| n.starts_with('d')));
    assert_eq!(rsp.client_type, ClientType::DelayProducer);
    let normal = client(&h, "s", ClientType::Producer, "").await;
    assert_eq!(names(&normal), ["n1"]);
}

#[tokio::test(start_paused = true)]
async fn invalid_subject_is_refused_with_timestamp_minus_two() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "a").await;
    for bad in ["", "a b", "a/b", "%RETRY%x y%g"] {
        let rsp = client(&h, bad, ClientType::Producer, "").await;
        assert_eq!(rsp.timestamp, -2, "{bad:?}");
        assert_eq!(rsp.on_offline_state, OnOfflineState::Offline);
        assert!(rsp.broker_groups.is_empty());
        assert_eq!(rsp.subject, bad);
    }
    let garbage = Frame::new(
        Header::request(RequestCode::ClientRegister, VERSION_9, 5),
        Bytes::from_static(&[0, 3, 0]),
    );
    let rsp = h.dispatch(garbage, peer()).await.unwrap();
    assert_eq!(MetaInfoResponse::decode(&rsp.body).unwrap().0.timestamp, -2);
    assert!(h.server().snapshot().routes.is_empty());
}

#[tokio::test(start_paused = true)]
async fn routes_and_groups_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let h = open(dir.path());
        for g in ["a", "b", "c"] {
            master_online(&h, g).await;
        }
        assert_eq!(
            names(&client(&h, "s", ClientType::Producer, "").await),
            ["a", "b"]
        );
        // No shutdown(): routes were saved before the answer.
    }
    let h = open(dir.path());
    let state = h.server().snapshot();
    assert_eq!(state.route("s").unwrap(), ["a", "b"]);
    assert_eq!(state.groups().len(), 3);
    // Live groups get a grace period after a restart, so the route is served unchanged.
    tokio::time::advance(TIMEOUT / 2).await;
    assert_eq!(
        names(&client(&h, "s", ClientType::Consumer, "g").await),
        ["a", "b"]
    );
    h.server().shutdown().await.unwrap();
    let reopened = MetaServer::open(MetaConfig::default(), dir.path()).unwrap();
    assert!(
        reopened
            .snapshot()
            .consumer_groups("s")
            .unwrap()
            .contains("g")
    );
}

#[tokio::test(start_paused = true)]
async fn silent_broker_is_not_routed_after_the_heartbeat_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "a").await;
    master_online(&h, "b").await;
    assert_eq!(
        names(&client(&h, "s", ClientType::Producer, "").await),
        ["a", "b"]
    );
    tokio::time::advance(TIMEOUT - Duration::from_secs(1)).await;
    broker(
        &h,
        BrokerRequestType::Heartbeat,
        "b",
        BrokerRole::Master,
        BrokerState::Rw,
    )
    .await;
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        names(&client(&h, "s", ClientType::Producer, "").await),
        ["b"]
    );
    assert_eq!(
        names(&client(&h, "s", ClientType::Consumer, "g").await),
        ["b"]
    );
    // A heartbeat brings it back.
    broker(
        &h,
        BrokerRequestType::Heartbeat,
        "a",
        BrokerRole::Master,
        BrokerState::Rw,
    )
    .await;
    assert_eq!(
        names(&client(&h, "s", ClientType::Producer, "").await),
        ["a", "b"]
    );
}

#[tokio::test(start_paused = true)]
async fn all_dead_route_is_extended_with_a_live_group() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "a").await;
    master_online(&h, "b").await;
    client(&h, "s", ClientType::Producer, "").await;
    tokio::time::advance(TIMEOUT * 2).await;
    master_online(&h, "c").await;
    assert_eq!(
        names(&client(&h, "s", ClientType::Producer, "").await),
        ["c"]
    );
    assert_eq!(h.server().snapshot().route("s").unwrap(), ["a", "b", "c"]);
}

#[tokio::test(start_paused = true)]
async fn maintenance_marks_silent_brokers_nrw_and_saves() {
    let dir = tempfile::tempdir().unwrap();
    let server = MetaServer::open(MetaConfig::default(), dir.path()).unwrap();
    let h = server.handler();
    master_online(&h, "a").await;
    let shutdown = CancellationToken::new();
    let task = server.spawn_maintenance(shutdown.clone());
    tokio::time::sleep(TIMEOUT + Duration::from_secs(10)).await;
    assert_eq!(server.snapshot().groups()["a"].state, GroupState::Nrw);
    shutdown.cancel();
    task.await.unwrap();
    let on_disk = std::fs::read_to_string(server.state_path()).unwrap();
    assert!(on_disk.contains("\"NRW\""), "{on_disk}");
    // NRW groups get no restart grace.
    let reopened = open(dir.path());
    assert!(
        client(&reopened, "s", ClientType::Other, "")
            .await
            .broker_groups
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn nrw_r_and_w_states_are_filtered_per_client_type() {
    let dir = tempfile::tempdir().unwrap();
    let h = MetaServer::open(
        MetaConfig {
            min_group_num: 4,
            ..MetaConfig::default()
        },
        dir.path(),
    )
    .unwrap()
    .handler();
    for g in ["r", "rw", "w", "x"] {
        master_online(&h, g).await;
    }
    client(&h, "s", ClientType::Producer, "").await;
    for (g, state) in [
        ("r", BrokerState::R),
        ("w", BrokerState::W),
        ("x", BrokerState::Nrw),
    ] {
        broker(
            &h,
            BrokerRequestType::Heartbeat,
            g,
            BrokerRole::Master,
            state,
        )
        .await;
    }
    assert_eq!(
        names(&client(&h, "s", ClientType::Producer, "").await),
        ["rw", "w"]
    );
    let consumer = client(&h, "s", ClientType::Consumer, "g").await;
    assert_eq!(names(&consumer), ["r", "rw"]);
    assert_eq!(consumer.broker_groups[0].state, BrokerState::R);
    assert_eq!(
        names(&client(&h, "s", ClientType::Other, "").await),
        ["r", "rw", "w"]
    );
}

#[tokio::test(start_paused = true)]
async fn broker_offline_is_nrw_and_slave_registration_is_only_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    master_online(&h, "a").await;
    master_online(&h, "b").await;
    client(&h, "s", ClientType::Producer, "").await;
    let rsp = broker(
        &h,
        BrokerRequestType::Offline,
        "a",
        BrokerRole::Master,
        BrokerState::Rw,
    )
    .await;
    assert_eq!(rsp.header.code, ResponseCode::Success.as_i16());
    assert_eq!(rsp.header.opaque, 7);
    assert_eq!(rsp.header.version, VERSION_8);
    assert!(rsp.body.is_empty());
    assert_eq!(
        names(&client(&h, "s", ClientType::Consumer, "g").await),
        ["b"]
    );
    let slave = broker(
        &h,
        BrokerRequestType::Online,
        "zz",
        BrokerRole::Slave,
        BrokerState::Rw,
    )
    .await;
    assert_eq!(slave.header.code, ResponseCode::Success.as_i16());
    assert!(!h.server().snapshot().groups().contains_key("zz"));
    let bad = Frame::new(
        raw_header(RequestCode::BrokerRegister, 8),
        Bytes::from_static(&[0, 0]),
    );
    let rsp = h.dispatch(bad, peer()).await.unwrap();
    assert_eq!(rsp.header.code, ResponseCode::ParamError.as_i16());
}

async fn acquire(
    h: &MetaHandler,
    hostname: &str,
    port: i32,
) -> Result<BrokerAcquireMetaResponse, i16> {
    let mut body = BytesMut::new();
    BrokerAcquireMetaRequest {
        hostname: hostname.into(),
        serve_port: port,
    }
    .encode(&mut body);
    let frame = Frame::new(raw_header(RequestCode::BrokerAcquireMeta, 3), body.freeze());
    let rsp = h.dispatch(frame, peer()).await.unwrap();
    assert_eq!(rsp.header.opaque, 3);
    if rsp.header.code == ResponseCode::Success.as_i16() {
        Ok(BrokerAcquireMetaResponse::decode(&rsp.body).unwrap().0)
    } else {
        Err(rsp.header.code)
    }
}

#[tokio::test(start_paused = true)]
async fn acquire_meta_answers_registered_group_or_default_or_table() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    let fresh = acquire(&h, "host1", 20881).await.unwrap();
    assert_eq!(fresh.group_name, "host1-20881");
    assert_eq!(fresh.role, BrokerRole::Master);
    assert_eq!(fresh.master, "");
    // "dd" registers with address 10.0.0.2:20881 (see `broker`).
    broker(
        &h,
        BrokerRequestType::Online,
        "dd",
        BrokerRole::DelayMaster,
        BrokerState::Rw,
    )
    .await;
    let known = acquire(&h, "10.0.0.2", 20881).await.unwrap();
    assert_eq!(
        (known.group_name.as_str(), known.role),
        ("dd", BrokerRole::DelayMaster)
    );
    assert_eq!(
        acquire(&h, "bad host", 1).await,
        Err(ResponseCode::BrokerError.as_i16())
    );

    let table = MetaConfig {
        brokers: vec![BrokerEntry {
            hostname: "h2".into(),
            serve_port: 20881,
            group: "g2".into(),
            role: ConfiguredRole::Slave,
            master: "10.0.0.9:20882".into(),
        }],
        ..MetaConfig::default()
    };
    let dir2 = tempfile::tempdir().unwrap();
    let h = MetaServer::open(table, dir2.path()).unwrap().handler();
    let slave = acquire(&h, "h2", 20881).await.unwrap();
    assert_eq!(
        (slave.group_name.as_str(), slave.master.as_str(), slave.role),
        ("g2", "10.0.0.9:20882", BrokerRole::Slave)
    );
    assert_eq!(
        acquire(&h, "h3", 20881).await,
        Err(ResponseCode::BrokerError.as_i16())
    );
}

#[tokio::test(start_paused = true)]
async fn other_codes_heartbeats_one_way_and_responses() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path());
    let send = Frame::new(
        Header::request(RequestCode::SendMessage, VERSION_9, 9),
        Bytes::new(),
    );
    let rsp = h.dispatch(send, peer()).await.unwrap();
    assert_eq!(rsp.header.code, ResponseCode::UnknownCode.as_i16());
    assert_eq!(rsp.header.request_code, RequestCode::SendMessage.as_i16());
    let heartbeat = Frame::new(
        Header::request(RequestCode::Heartbeat, VERSION_9, 1),
        Bytes::new(),
    );
    let rsp = h.dispatch(heartbeat, peer()).await.unwrap();
    assert_eq!(rsp.header.code, ResponseCode::Success.as_i16());

    let mut one_way = Header::request(RequestCode::BrokerRegister, VERSION_8, 2);
    one_way.flag = FLAG_ONE_WAY;
    let mut body = BytesMut::new();
    BrokerRegisterRequest {
        request_type: BrokerRequestType::Online,
        group_name: "ow".into(),
        broker_address: "1.2.3.4:5".into(),
        broker_role: BrokerRole::Master,
        broker_state: BrokerState::Rw,
    }
    .encode(&mut body);
    assert!(
        h.dispatch(Frame::new(one_way, body.freeze()), peer())
            .await
            .is_none()
    );
    assert!(h.server().snapshot().groups().contains_key("ow"));

    let response = Frame::empty_response(
        &Header::request(RequestCode::ClientRegister, 9, 1),
        ResponseCode::Success,
    );
    assert!(h.dispatch(response, peer()).await.is_none());
}

#[tokio::test]
async fn handler_serves_over_the_net_layer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let server = MetaServer::open(MetaConfig::default(), dir.path()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let net = tokio::spawn(crate::net::serve(
        listener,
        std::sync::Arc::new(server.handler()),
        crate::net::NetConfig::default(),
        shutdown.clone(),
    ));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut body = BytesMut::new();
    ClientRegisterRequest::new(
        "s",
        ClientType::Producer,
        "a",
        "c",
        "",
        ClientRequestType::Online,
    )
    .encode(&mut body);
    let mut out = BytesMut::new();
    Frame::new(
        Header::request(RequestCode::ClientRegister, VERSION_9, 77),
        body.freeze(),
    )
    .encode(&mut out);
    stream.write_all(&out).await.unwrap();
    let mut buf = BytesMut::new();
    let frame = loop {
        if let Some(frame) = Frame::decode_from(&mut buf, 1 << 20).unwrap() {
            break frame;
        }
        assert!(
            stream.read_buf(&mut buf).await.unwrap() > 0,
            "connection closed"
        );
    };
    assert_eq!(frame.header.opaque, 77);
    let rsp = MetaInfoResponse::decode(&frame.body).unwrap().0;
    assert_eq!((rsp.subject.as_str(), rsp.timestamp > 0), ("s", true));
    shutdown.cancel();
    net.await.unwrap();
}
