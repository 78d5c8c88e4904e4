//! Producer tests against an in-process fake server that is both meta (HTTP locator + TCP
//! CLIENT_REGISTER) and broker (SEND_MESSAGE with scripted answers).

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::backoff::Backoff;
use crate::client::{Client, ClientConfig, ClientError, SendReceipt, SendResult};
use crate::protocol::message::FLAG_DELAY;
use crate::protocol::{
    BrokerGroupInfo, BrokerState, ClientRegisterRequest, ClientType, Frame, Header,
    MetaInfoResponse, OnOfflineState, RequestCode, ResponseCode, SendMessageRequest,
    SendMessageResponse, SendResult as WireResult,
};

/// What the fake broker does with the n-th SEND request (0-based).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reply {
    /// Store everything.
    Ok,
    /// Answer every message with this MessageProducerCode.
    Code(i32),
    /// Answer with this response code and no body.
    Response(ResponseCode),
    /// Never answer.
    Silent,
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

struct Fake {
    rt: tokio::runtime::Runtime,
    url: String,
    sends: Arc<AtomicUsize>,
    /// Ids of stored messages, with their delay flag.
    stored: Arc<Mutex<Vec<(String, bool)>>>,
    batch_sizes: Arc<Mutex<Vec<usize>>>,
    registrations: Arc<Mutex<Vec<ClientType>>>,
}

impl Fake {
    fn start(script: impl Fn(usize) -> Reply + Send + Sync + 'static) -> Fake {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let script: Script = Arc::new(script);
        let sends = Arc::new(AtomicUsize::new(0));
        let stored = Arc::new(Mutex::new(Vec::new()));
        let batch_sizes = Arc::new(Mutex::new(Vec::new()));
        let registrations = Arc::new(Mutex::new(Vec::new()));
        let (tcp, http) = rt.block_on(async {
            (
                TcpListener::bind("127.0.0.1:0").await.unwrap(),
                TcpListener::bind("127.0.0.1:0").await.unwrap(),
            )
        });
        let tcp_addr = tcp.local_addr().unwrap().to_string();
        let url = format!("http://{}/meta/address", http.local_addr().unwrap());
        let body = tcp_addr.clone();
        rt.spawn(async move {
            while let Ok((mut s, _)) = http.accept().await {
                let body = body.clone();
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
        let conn = Conn {
            master: tcp_addr,
            script,
            sends: sends.clone(),
            stored: stored.clone(),
            batch_sizes: batch_sizes.clone(),
            registrations: registrations.clone(),
        };
        rt.spawn(async move {
            while let Ok((s, _)) = tcp.accept().await {
                tokio::spawn(conn.clone().serve(s));
            }
        });
        Fake {
            rt,
            url,
            sends,
            stored,
            batch_sizes,
            registrations,
        }
    }

    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new("test-app");
        c.meta.url = self.url.clone();
        c.runtime.worker_threads = 2;
        c.producer.backoff = Backoff::constant(Duration::from_millis(1));
        c
    }

    fn stored_ids(&self) -> HashSet<String> {
        self.stored
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[derive(Clone)]
struct Conn {
    master: String,
    script: Script,
    sends: Arc<AtomicUsize>,
    stored: Arc<Mutex<Vec<(String, bool)>>>,
    batch_sizes: Arc<Mutex<Vec<usize>>>,
    registrations: Arc<Mutex<Vec<ClientType>>>,
}

impl Conn {
    async fn serve(self, mut s: TcpStream) {
        let mut buf = BytesMut::new();
        loop {
            let frame = loop {
                match Frame::decode_from(&mut buf, 1 << 26) {
                    Ok(Some(f)) => break f,
                    Ok(None) => {}
                    Err(_) => return,
                }
                match s.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            };
            let Some(reply) = self.answer(&frame) else {
                continue;
            };
            let mut out = BytesMut::new();
            reply.encode(&mut out);
            if s.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    fn answer(&self, frame: &Frame) -> Option<Frame> {
        let ok = |body: BytesMut| {
            Some(Frame::new(
                Header::response_to(&frame.header, ResponseCode::Success),
                body.freeze(),
            ))
        };
        if frame.header.code == RequestCode::ClientRegister.as_i16() {
            let (req, _) = ClientRegisterRequest::decode(&frame.body).unwrap();
            self.registrations.lock().unwrap().push(req.client_type());
            let resp = MetaInfoResponse {
                timestamp: 1,
                subject: req.subject().to_owned(),
                consumer_group: req.consumer_group().to_owned(),
                on_offline_state: OnOfflineState::Online,
                client_type: req.client_type(),
                broker_groups: vec![BrokerGroupInfo {
                    group_name: if req.client_type() == ClientType::DelayProducer {
                        "delay1".into()
                    } else {
                        "g1".into()
                    },
                    master: self.master.clone(),
                    update_time: 0,
                    state: BrokerState::Rw,
                }],
            };
            let mut body = BytesMut::new();
            resp.encode(&mut body);
            return ok(body);
        }
        assert_eq!(frame.header.code, RequestCode::SendMessage.as_i16());
        let n = self.sends.fetch_add(1, Ordering::SeqCst);
        let req = SendMessageRequest::decode(&frame.body).unwrap();
        self.batch_sizes.lock().unwrap().push(req.messages.len());
        match (self.script)(n) {
            Reply::Silent => None,
            Reply::Response(code) => Some(Frame::empty_response(&frame.header, code)),
            Reply::Ok => {
                let mut stored = self.stored.lock().unwrap();
                for m in &req.messages {
                    assert!(m.crc_matches());
                    stored.push((m.header.message_id.clone(), m.header.flag & FLAG_DELAY != 0));
                }
                ok(BytesMut::new())
            }
            Reply::Code(code) => {
                let resp = SendMessageResponse {
                    failures: req
                        .messages
                        .iter()
                        .map(|m| WireResult {
                            message_id: m.header.message_id.clone(),
                            code,
                            remark: "scripted".into(),
                        })
                        .collect(),
                };
                let mut body = BytesMut::new();
                resp.encode(&mut body);
                ok(body)
            }
        }
    }
}

/// Collects callback results and counts every call.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<SendResult>>>);

impl Calls {
    fn callback(&self) -> crate::client::SendCallback {
        let me = self.clone();
        Box::new(move |r| me.0.lock().unwrap().push(r))
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

#[test]
fn messages_are_batched_delivered_and_acknowledged_once_each() {
    let fake = Fake::start(|_| Reply::Ok);
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    let futures: Vec<_> = (0..500)
        .map(|i| {
            let mut m = p.generate_message("order.changed").unwrap();
            m.set_property("i", i.to_string()).unwrap();
            p.send(m)
        })
        .collect();
    let receipts: Vec<SendReceipt> = fake
        .rt
        .block_on(async { futures_all(futures).await })
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(
        receipts
            .iter()
            .all(|r| r.broker_group == "g1" && r.attempts == 1)
    );
    let ids: HashSet<String> = receipts.into_iter().map(|r| r.message_id).collect();
    assert_eq!(ids.len(), 500);
    assert_eq!(fake.stored_ids(), ids);
    assert!(
        fake.batch_sizes
            .lock()
            .unwrap()
            .iter()
            .all(|&n| (1..=30).contains(&n))
    );
    // The blocking form works from a plain thread.
    let r = p
        .send_blocking(p.generate_message("order.changed").unwrap())
        .unwrap();
    assert_eq!(r.broker_group, "g1");
    client.close(Duration::from_secs(5)).unwrap();
}

async fn futures_all<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(fs.len());
    for f in fs {
        out.push(f.await);
    }
    out
}

#[test]
fn read_only_group_is_refreshed_and_the_batch_resent() {
    let fake = Fake::start(|n| if n == 0 { Reply::Code(4) } else { Reply::Ok });
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    let r = p.send_blocking(p.generate_message("s").unwrap()).unwrap();
    assert_eq!(r.attempts, 2);
    // First lookup, then the refresh after READ_ONLY.
    assert!(fake.registrations.lock().unwrap().len() >= 2);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn reject_and_transient_codes_are_resent() {
    let fake = Fake::start(|n| match n {
        0 => Reply::Response(ResponseCode::BrokerReject),
        1 => Reply::Code(6),
        2 => Reply::Response(ResponseCode::BrokerError),
        _ => Reply::Ok,
    });
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    let r = p.send_blocking(p.generate_message("s").unwrap()).unwrap();
    assert_eq!(r.attempts, 4);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn busy_is_final_and_exhaustion_reports_the_last_error() {
    let fake = Fake::start(|n| {
        if n == 0 {
            Reply::Code(1)
        } else {
            Reply::Code(3)
        }
    });
    let mut config = fake.config();
    config.producer.send_tries = 3;
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let err = p
        .send_blocking(p.generate_message("s").unwrap())
        .unwrap_err();
    assert!(
        matches!(err, ClientError::SendRejected { code: 1, .. }),
        "{err:?}"
    );
    assert_eq!(fake.sends.load(Ordering::SeqCst), 1);
    let err = p
        .send_blocking(p.generate_message("s").unwrap())
        .unwrap_err();
    match err {
        ClientError::SendExhausted {
            attempts: 3,
            source,
            ..
        } => {
            assert!(matches!(
                *source,
                ClientError::SendFailedCode { code: 3, .. }
            ));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.sends.load(Ordering::SeqCst), 4);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn timeouts_are_retried() {
    let fake = Fake::start(|n| if n == 0 { Reply::Silent } else { Reply::Ok });
    let mut config = fake.config();
    config.producer.send_timeout = Duration::from_millis(200);
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let r = p.send_blocking(p.generate_message("s").unwrap()).unwrap();
    assert_eq!(r.attempts, 2);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn delay_messages_go_to_the_delay_route_with_the_delay_flag() {
    let fake = Fake::start(|_| Reply::Ok);
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    let mut m = p.generate_message("s").unwrap();
    m.set_delay(Duration::from_secs(30)).unwrap();
    let id = m.message_id().to_owned();
    let r = p.send_blocking(m).unwrap();
    assert_eq!(r.broker_group, "delay1");
    assert!(
        fake.registrations
            .lock()
            .unwrap()
            .contains(&ClientType::DelayProducer)
    );
    assert!(fake.stored.lock().unwrap().contains(&(id, true)));
    let mut m = p.generate_message("s").unwrap();
    m.set_delay(Duration::from_millis(100)).unwrap();
    assert_eq!(p.send_blocking(m).unwrap().broker_group, "g1");
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn full_queue_is_an_error_and_close_completes_every_pending_message_once() {
    let fake = Fake::start(|_| Reply::Silent);
    let mut config = fake.config();
    config.producer.batch_size = 1;
    config.producer.queue_capacity = 3;
    config.producer.send_timeout = Duration::from_secs(60);
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let calls = Calls::default();
    for _ in 0..3 {
        p.send_with_callback(p.generate_message("s").unwrap(), calls.callback())
            .unwrap();
    }
    assert_eq!(p.pending(), 3);
    let err = p
        .send_with_callback(p.generate_message("s").unwrap(), calls.callback())
        .unwrap_err();
    assert!(matches!(err, ClientError::QueueFull { capacity: 3 }));
    let fut = p.send(p.generate_message("s").unwrap());
    assert!(matches!(
        fake.rt.block_on(fut),
        Err(ClientError::QueueFull { .. })
    ));
    let err = client.close(Duration::from_millis(300)).unwrap_err();
    assert!(matches!(err, ClientError::FlushTimeout { pending: 3, .. }));
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|r| matches!(r, Err(ClientError::ProducerClosed)))
    );
    assert_eq!(p.pending(), 0);
    // Closed: later sends fail at once; a second close is a no-op.
    assert!(matches!(
        p.send_with_callback(p.generate_message("s").unwrap(), calls.callback()),
        Err(ClientError::ProducerClosed)
    ));
    assert!(matches!(
        p.send_blocking(p.generate_message("s").unwrap()),
        Err(ClientError::ProducerClosed)
    ));
    client.close(Duration::from_secs(1)).unwrap();
    assert_eq!(calls.len(), 3);
}

#[test]
fn dropping_the_client_completes_pending_messages() {
    let fake = Fake::start(|_| Reply::Silent);
    let mut config = fake.config();
    config.producer.send_timeout = Duration::from_secs(60);
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let calls = Calls::default();
    for _ in 0..50 {
        p.send_with_callback(p.generate_message("s").unwrap(), calls.callback())
            .unwrap();
    }
    drop(client);
    p.flush_blocking(Duration::from_secs(5)).unwrap();
    assert_eq!(calls.len(), 50);
    assert!(matches!(
        p.send_blocking(p.generate_message("s").unwrap()),
        Err(ClientError::ProducerClosed)
    ));
}

#[test]
fn back_pressure_waits_for_room() {
    let fake = Fake::start(|n| if n == 0 { Reply::Silent } else { Reply::Ok });
    let mut config = fake.config();
    config.producer.batch_size = 1;
    config.producer.queue_capacity = 1;
    config.producer.send_timeout = Duration::from_millis(300);
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let first = p.send(p.generate_message("s").unwrap());
    let second = p.generate_message("s").unwrap();
    let p2 = p.clone();
    let (a, b) = fake.rt.block_on(async move {
        let queued = p2.send_with_backpressure(second).await.unwrap();
        (first.await, queued.await)
    });
    assert_eq!(a.unwrap().attempts, 2);
    assert_eq!(b.unwrap().attempts, 1);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn blocking_calls_inside_a_runtime_are_refused() {
    let fake = Fake::start(|_| Reply::Ok);
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    let c = client.clone();
    fake.rt.block_on(async move {
        let m = p.generate_message("s").unwrap();
        assert!(matches!(
            p.send_blocking(m),
            Err(ClientError::BlockingInAsyncContext { .. })
        ));
        assert!(matches!(
            p.flush_blocking(Duration::from_secs(1)),
            Err(ClientError::BlockingInAsyncContext { .. })
        ));
        assert!(matches!(
            c.close(Duration::from_secs(1)),
            Err(ClientError::BlockingInAsyncContext { .. })
        ));
        // The async forms work here.
        let r = p.send(p.generate_message("s").unwrap()).await.unwrap();
        assert_eq!(r.broker_group, "g1");
        c.close_async(Duration::from_secs(5)).await.unwrap();
    });
    assert!(client.is_closed());
}

#[test]
fn invalid_messages_fail_before_queueing() {
    let fake = Fake::start(|_| Reply::Ok);
    let client = Client::new(fake.config()).unwrap();
    let p = client.producer();
    assert!(matches!(
        p.generate_message("bad subject"),
        Err(ClientError::InvalidName { .. })
    ));
    assert_eq!(p.pending(), 0);
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_host_built_message_keeps_its_id_and_creation_time() {
    let client = Client::new(ClientConfig::new("test-app")).unwrap();
    let producer = client.producer();
    let id = producer.next_message_id();
    assert_ne!(id, producer.next_message_id());
    let created = std::time::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    let m = producer.message_with_id("s", id.clone(), created).unwrap();
    assert_eq!(m.message_id(), id);
    assert_eq!(m.property("qmq_createTime"), Some("1700000000123"));
    assert_eq!(m.property("qmq_appCode"), Some("test-app"));
    assert!(
        producer
            .message_with_id("bad subject", id, created)
            .is_err()
    );
    client.close(Duration::from_secs(1)).unwrap();
}
