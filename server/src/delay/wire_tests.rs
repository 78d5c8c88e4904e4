//! The delay role on the wire: SEND_MESSAGE from producers, and hand-over to a broker found
//! through meta, against in-process fake meta and broker servers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qmq_core::client::{Connection, ConnectionConfig, HostPort};
use qmq_core::protocol::frame::{VERSION_7, VERSION_9};
use qmq_core::protocol::message::FLAG_DELAY;
use qmq_core::protocol::{
    BrokerGroupInfo, BrokerRegisterRequest, BrokerRequestType, BrokerRole, BrokerState,
    ClientRegisterRequest, ClientType, Frame, Header, Message, MessageHeader, MessageProducerCode,
    MetaInfoResponse, OnOfflineState, RequestCode, ResponseCode, SendMessageRequest,
    SendMessageResponse, SendResult,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::net::{FrameHandler, NetConfig, serve};

const T0: i64 = 1_700_002_800_000;

fn record(id: &str, subject: &str, flag: u8, schedule: i64) -> Bytes {
    let m = Message {
        header: MessageHeader {
            flag,
            created_time: 1,
            expire_or_schedule_time: schedule,
            subject: subject.into(),
            message_id: id.into(),
            tags: vec![],
        },
        attrs: vec![("qmq_scheduleReceiveTime".into(), schedule.to_string())],
    };
    let mut out = BytesMut::new();
    m.encode_record(&mut out);
    out.freeze()
}

fn send_frame(records: &[Bytes]) -> Frame {
    let mut body = BytesMut::new();
    for r in records {
        body.extend_from_slice(r);
    }
    Frame::new(
        Header::request(RequestCode::SendMessage, VERSION_9, 7),
        body.freeze(),
    )
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 1))
}

fn failures(reply: &Frame) -> Vec<SendResult> {
    assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
    SendMessageResponse::decode(&reply.body)
        .expect("response")
        .0
        .failures
}

#[tokio::test]
async fn send_message_stores_good_records_and_names_bad_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let server =
        DelayServer::open_with_clock(DelayConfig::default(), dir.path(), Arc::new(clock.clone()))
            .expect("open");
    let mut bad_crc = BytesMut::from(&record("crc", "s", FLAG_DELAY, T0 + 1_000)[..]);
    if let Some(b) = bad_crc.last_mut() {
        *b ^= 1;
    }
    let reply = server
        .handle(
            send_frame(&[
                record("good", "s", FLAG_DELAY, T0 + 60_000),
                record("plain", "s", 0, 0),
                record("neg", "s", FLAG_DELAY, -5),
                record("far", "s", FLAG_DELAY, T0 + 3 * 365 * 86_400_000),
                bad_crc.freeze(),
                record("subj", "a b", FLAG_DELAY, T0),
            ]),
            peer(),
        )
        .await
        .expect("reply");
    assert_eq!(reply.header.opaque, 7);
    let got: Vec<(String, i32, String)> = failures(&reply)
        .into_iter()
        .map(|f| (f.message_id, f.code, f.remark))
        .collect();
    let code = |id: &str| got.iter().find(|f| f.0 == id).map(|f| f.1);
    let remark = |id: &str| got.iter().find(|f| f.0 == id).map(|f| f.2.clone());
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(code("neg"), Some(MessageProducerCode::BrokerBusy.as_i32()));
    assert!(remark("neg").unwrap_or_default().contains("negative"));
    assert_eq!(code("far"), Some(MessageProducerCode::BrokerBusy.as_i32()));
    assert!(
        remark("far")
            .unwrap_or_default()
            .contains("beyond the maximum delay")
    );
    assert_eq!(code("crc"), Some(MessageProducerCode::StoreError.as_i32()));
    assert_eq!(
        code("subj"),
        Some(MessageProducerCode::SubjectNotAssigned.as_i32())
    );

    let s = server.scheduler();
    s.tick().await.expect("tick");
    assert_eq!(s.pending_in_memory(), 2, "good + unflagged stored");

    let garbage = Frame::new(
        Header::request(RequestCode::SendMessage, VERSION_9, 8),
        Bytes::from_static(b"\0\0\0"),
    );
    let reply = server.handle(garbage, peer()).await.expect("reply");
    assert_eq!(reply.header.code, ResponseCode::BrokerError.as_i16());
    assert!(server.accepts(RequestCode::SendMessage));
    assert!(!server.accepts(RequestCode::PullMessage));
}

#[derive(Default)]
struct FakeMeta {
    broker: Mutex<String>,
    registers: Mutex<Vec<BrokerRegisterRequest>>,
    client_types: Mutex<Vec<ClientType>>,
}

impl FrameHandler for FakeMeta {
    async fn handle(&self, request: Frame, _peer: SocketAddr) -> Option<Frame> {
        let ok = Header::response_to(&request.header, ResponseCode::Success);
        if request.header.code == RequestCode::BrokerRegister.as_i16() {
            let (req, _) = BrokerRegisterRequest::decode(&request.body).ok()?;
            self.registers.lock().ok()?.push(req);
            return Some(Frame::new(ok, Bytes::new()));
        }
        let (req, _) = ClientRegisterRequest::decode(&request.body).ok()?;
        self.client_types.lock().ok()?.push(req.client_type());
        let response = MetaInfoResponse {
            timestamp: 1,
            subject: req.subject().to_owned(),
            consumer_group: String::new(),
            on_offline_state: OnOfflineState::Online,
            client_type: req.client_type(),
            broker_groups: vec![BrokerGroupInfo {
                group_name: "broker-0".into(),
                master: self.broker.lock().ok()?.clone(),
                update_time: 1,
                state: BrokerState::Rw,
            }],
        };
        let mut body = BytesMut::new();
        response.encode(&mut body);
        Some(Frame::new(ok, body.freeze()))
    }

    fn accepts(&self, code: RequestCode) -> bool {
        matches!(
            code,
            RequestCode::BrokerRegister | RequestCode::ClientRegister
        )
    }
}

/// Records SENDs; fails message id `flaky` once with STORE_ERROR.
#[derive(Default)]
struct FakeBroker {
    sends: Mutex<Vec<(i16, Bytes)>>,
    failed_once: Mutex<bool>,
}

impl FrameHandler for FakeBroker {
    async fn handle(&self, request: Frame, _peer: SocketAddr) -> Option<Frame> {
        let decoded = SendMessageRequest::decode(&request.body).ok()?;
        let mut failures = Vec::new();
        for m in decoded.messages {
            let mut failed = self.failed_once.lock().ok()?;
            if m.header.message_id == "flaky" && !*failed {
                *failed = true;
                failures.push(SendResult {
                    message_id: "flaky".into(),
                    code: MessageProducerCode::StoreError.as_i32(),
                    remark: "disk".into(),
                });
                continue;
            }
            self.sends
                .lock()
                .ok()?
                .push((request.header.version, m.record.clone()));
        }
        let mut body = BytesMut::new();
        SendMessageResponse { failures }.encode(&mut body);
        Some(Frame::new(
            Header::response_to(&request.header, ResponseCode::Success),
            body.freeze(),
        ))
    }

    fn accepts(&self, code: RequestCode) -> bool {
        code == RequestCode::SendMessage
    }
}

async fn spawn<H: FrameHandler>(handler: Arc<H>, token: &CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(
        listener,
        handler,
        NetConfig::default(),
        token.clone(),
    ));
    addr
}

fn host_port(addr: SocketAddr) -> HostPort {
    HostPort::new(addr.ip().to_string(), addr.port()).expect("host port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_records_reach_the_broker_unchanged_through_meta() {
    let token = CancellationToken::new();
    let meta = Arc::new(FakeMeta::default());
    let broker = Arc::new(FakeBroker::default());
    let meta_addr = spawn(Arc::clone(&meta), &token).await;
    let broker_addr = spawn(Arc::clone(&broker), &token).await;
    *meta.broker.lock().expect("lock") = broker_addr.to_string();

    let dir = tempfile::tempdir().expect("tempdir");
    let server = DelayServer::open(DelayConfig::default(), dir.path()).expect("open");
    let delay_token = CancellationToken::new();
    let delay_addr = spawn(Arc::new(server.clone()), &delay_token).await;
    server.start(host_port(meta_addr), delay_addr.to_string(), &delay_token);

    let now = SystemClock.now_ms();
    let records: Vec<Bytes> = ["m0", "flaky", "m2"]
        .iter()
        .enumerate()
        .map(|(i, id)| record(id, "order.paid", FLAG_DELAY, now + 200 + i as i64 * 50))
        .collect();
    let producer = Connection::new(
        host_port(delay_addr),
        ConnectionConfig::default(),
        tokio::runtime::Handle::current(),
    );
    let reply = producer
        .request(
            RequestCode::SendMessage,
            VERSION_9,
            send_frame(&records).body,
        )
        .await
        .expect("send to delay server");
    assert!(failures(&reply).is_empty());

    for _ in 0..400 {
        if broker.sends.lock().expect("lock").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sends = broker.sends.lock().expect("lock").clone();
    assert_eq!(sends.len(), 3, "every record delivered once");
    for (version, bytes) in &sends {
        assert_eq!(*version, VERSION_7);
        assert!(records.contains(bytes), "record changed on the way");
    }
    assert!(
        *broker.failed_once.lock().expect("lock"),
        "retry not exercised"
    );
    assert!(
        meta.client_types
            .lock()
            .expect("lock")
            .iter()
            .all(|t| *t == ClientType::Producer)
    );

    delay_token.cancel();
    server.stop().await;
    let registers = meta.registers.lock().expect("lock").clone();
    assert!(
        registers
            .iter()
            .all(|r| r.broker_role == BrokerRole::DelayMaster
                && r.broker_address == delay_addr.to_string())
    );
    assert_eq!(
        registers.first().map(|r| r.request_type),
        Some(BrokerRequestType::Online)
    );
    assert_eq!(
        registers.last().map(|r| r.request_type),
        Some(BrokerRequestType::Offline)
    );
    producer.close();
    token.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_with_real_meta_and_hands_over_to_real_broker() {
    use crate::app::roles::{BrokerRole as BrokerRoleTask, MetaRole, bind};
    use crate::app::standalone::ServerConfig;

    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig::for_tests(dir.path());
    let shutdown = CancellationToken::new();
    let http = bind("meta http", "127.0.0.1", 0).await.expect("bind");
    let tcp = bind("meta tcp", "127.0.0.1", 0).await.expect("bind");
    let broker_listener = bind("broker", "127.0.0.1", 0).await.expect("bind");
    let meta = MetaRole::start(&config, http, tcp, &shutdown)
        .await
        .expect("meta");
    let meta_tcp = SocketAddr::from(([127, 0, 0, 1], meta.tcp_port));
    let broker = BrokerRoleTask::start(&config, broker_listener, meta_tcp, &shutdown)
        .await
        .expect("broker");

    let server = DelayServer::open(DelayConfig::default(), dir.path()).expect("open");
    let delay_token = CancellationToken::new();
    let delay_addr = spawn(Arc::new(server.clone()), &delay_token).await;
    server.start(host_port(meta_tcp), delay_addr.to_string(), &delay_token);
    for _ in 0..500 {
        if meta.knows_group("delay-0") && meta.knows_group(broker.group_name()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(meta.knows_group("delay-0"), "delay server not registered");

    // A delay producer is routed to us.
    let meta_conn = Connection::new(
        host_port(meta_tcp),
        ConnectionConfig::default(),
        tokio::runtime::Handle::current(),
    );
    let req = ClientRegisterRequest::new(
        "order.paid",
        ClientType::DelayProducer,
        "app",
        "client-1",
        "",
        qmq_core::protocol::ClientRequestType::Online,
    );
    let mut body = BytesMut::new();
    req.encode(&mut body);
    let reply = meta_conn
        .request(RequestCode::ClientRegister, VERSION_9, body.freeze())
        .await
        .expect("client register");
    let (route, _) = MetaInfoResponse::decode(&reply.body).expect("route");
    assert!(
        route
            .broker_groups
            .iter()
            .any(|g| g.master == delay_addr.to_string()),
        "{route:?}"
    );

    let producer = Connection::new(
        host_port(delay_addr),
        ConnectionConfig::default(),
        tokio::runtime::Handle::current(),
    );
    let now = SystemClock.now_ms();
    let records = [
        record("real-1", "order.paid", FLAG_DELAY, now + 100),
        record("real-2", "order.paid", FLAG_DELAY, now + 300),
    ];
    let reply = producer
        .request(
            RequestCode::SendMessage,
            VERSION_9,
            send_frame(&records).body,
        )
        .await
        .expect("send");
    assert!(failures(&reply).is_empty());
    for _ in 0..500 {
        if server.scheduler().dispatched_total() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.scheduler().dispatched_total(),
        2,
        "the broker did not confirm both messages"
    );

    delay_token.cancel();
    server.stop().await;
    producer.close();
    meta_conn.close();
    shutdown.cancel();
    broker.stop().await;
    meta.stop().await;
}
