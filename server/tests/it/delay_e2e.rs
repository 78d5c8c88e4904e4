//! The delay role through the real binary: meta routes delay producers to the delay port, delay
//! records wait until their schedule time and then reach the broker in delivery-time order, bad
//! schedule times are refused with a remark, and a SIGTERM restart or a kill -9 in the middle of
//! dispatching loses nothing (re-sending at most what was in flight at the crash).
//!
//! Wall-clock bounds are strict below (never before the schedule time, 10 ms for clock reads)
//! and generous above (5 s after it), so a loaded machine makes these tests slow, not red.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use qmq_core::protocol::message::FLAG_DELAY;
use qmq_core::protocol::names::attr;
use qmq_core::protocol::{ClientType, Message, MessageProducerCode};

use crate::support::client::{TestClient, ack_request, message, now_ms, pull_request};
use crate::support::server::ServerProcess;

/// Slack for reading the clock in two places (test and server) around the schedule time.
const EARLY_SLACK_MS: i64 = 10;
/// Latest acceptable delivery after the schedule time.
const LATE_BOUND_MS: i64 = 5_000;
const TWO_YEARS_MS: i64 = 2 * 365 * 24 * 3_600_000;

/// A delay record as the Java producer sends it: delay flag, schedule time in the header and
/// in `qmq_scheduleReceiveTime`.
fn delay_message(subject: &str, id: &str, schedule_ms: i64) -> Message {
    let mut m = message(subject, id, &[], &[("pad", &"x".repeat(64))]);
    m.header.flag |= FLAG_DELAY;
    m.header.expire_or_schedule_time = schedule_ms;
    m.set_attr(attr::SCHEDULE_RECEIVE_TIME, schedule_ms.to_string());
    m
}

/// One message as a consumer saw it.
#[derive(Debug, Clone)]
struct Arrival {
    id: String,
    /// Wall clock when the pull response was read.
    at_ms: i64,
    /// The producer's schedule time (from the stored record's header).
    schedule_ms: i64,
}

/// Asks meta, as a delay producer, where `subject` goes; returns the one master's address.
async fn delay_route(server: &ServerProcess, subject: &str) -> SocketAddr {
    let mut meta = TestClient::connect(server.meta_tcp()).await;
    let info = meta.register(subject, ClientType::DelayProducer, "").await;
    assert_eq!(
        info.broker_groups.len(),
        1,
        "one delay group: {:?}",
        info.broker_groups
    );
    info.broker_groups[0]
        .master
        .parse()
        .expect("delay master is ip:port")
}

/// A consumer of one group on the broker that acks everything it pulls.
struct Puller {
    client: TestClient,
    group: String,
}

impl Puller {
    async fn new(server: &ServerProcess, group: &str) -> Self {
        Self {
            client: TestClient::connect(server.broker()).await,
            group: group.to_owned(),
        }
    }

    /// An empty pull: a new group starts at the latest message, so do this before sending.
    async fn subscribe(&mut self, subject: &str) {
        let got = self
            .client
            .pull(&pull_request(subject, &self.group, "c", 1, 0))
            .await;
        assert!(got.is_none(), "subject {subject} is new");
    }

    /// One pull of up to `n` messages (long poll of `timeout_ms`), acked at once.
    async fn pull_once(&mut self, subject: &str, n: usize, timeout_ms: i64) -> Vec<Arrival> {
        let req = pull_request(subject, &self.group, "c", n.min(500) as i32, timeout_ms);
        let Some(resp) = self.client.pull(&req).await else {
            return Vec::new();
        };
        let at_ms = now_ms();
        if resp.messages.is_empty() {
            return Vec::new();
        }
        let first = resp.pull_log_offset;
        let last = first + resp.messages.len() as i64 - 1;
        let ack = ack_request(subject, &self.group, "c", first, last);
        assert_eq!(self.client.ack(&ack).await, 0, "ack accepted");
        resp.messages
            .into_iter()
            .map(|m| {
                assert!(m.header.is_delay(), "stored as sent, delay flag kept");
                Arrival {
                    schedule_ms: m.header.expire_or_schedule_time,
                    id: m.header.message_id,
                    at_ms,
                }
            })
            .collect()
    }

    /// Pulls until `distinct` different ids were seen in `out` or `within` passed.
    async fn pull_until(
        &mut self,
        subject: &str,
        distinct: usize,
        within: Duration,
        out: &mut Vec<Arrival>,
    ) {
        let deadline = Instant::now() + within;
        loop {
            let seen = distinct_ids(out);
            if seen >= distinct || Instant::now() >= deadline {
                return;
            }
            out.extend(self.pull_once(subject, distinct - seen, 500).await);
        }
    }
}

fn distinct_ids(arrivals: &[Arrival]) -> usize {
    arrivals
        .iter()
        .map(|a| a.id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len()
}

/// Asserts no arrival came before its schedule time.
fn assert_not_early(arrivals: &[Arrival]) {
    for a in arrivals {
        assert!(
            a.at_ms >= a.schedule_ms - EARLY_SLACK_MS,
            "{} arrived {} ms before its schedule time",
            a.id,
            a.schedule_ms - a.at_ms
        );
    }
}

/// Asserts no arrival came before its schedule time nor long after it.
fn assert_on_time(arrivals: &[Arrival]) {
    assert_not_early(arrivals);
    for a in arrivals {
        assert!(
            a.at_ms <= a.schedule_ms + LATE_BOUND_MS,
            "{} arrived {} ms after its schedule time",
            a.id,
            a.at_ms - a.schedule_ms
        );
    }
}

fn counts(arrivals: &[Arrival]) -> HashMap<&str, usize> {
    let mut n = HashMap::new();
    for a in arrivals {
        *n.entry(a.id.as_str()).or_insert(0) += 1;
    }
    n
}

fn config_file(dir: &Path, body: &str) -> String {
    let path = dir.join("delay-test.toml");
    std::fs::write(&path, body).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn delay_producers_are_routed_to_the_delay_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let routed = delay_route(&server, "delay.route").await;
    assert_eq!(
        routed,
        server.delay(),
        "delay producers go to the delay role"
    );
    let mut meta = TestClient::connect(server.meta_tcp()).await;
    let plain = meta.register("delay.route", ClientType::Producer, "").await;
    assert_eq!(plain.broker_groups.len(), 1);
    assert_eq!(
        plain.broker_groups[0].master,
        server.broker().to_string(),
        "ordinary producers still go to the broker"
    );
    assert_ne!(server.delay(), server.broker());
}

#[tokio::test]
async fn due_messages_reach_the_broker_in_delivery_time_order_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let subject = "delay.order";
    let mut consumer = Puller::new(&server, "g").await;
    consumer.subscribe(subject).await;
    let mut producer = TestClient::connect(delay_route(&server, subject).await).await;

    let base = now_ms();
    // Sent out of order; due 1.0 to 3.0 s from now, plus one already past.
    let offsets = [2_600, 1_000, 2_200, 1_400, 3_000, 1_800];
    let mut batch: Vec<Message> = offsets
        .iter()
        .map(|o| delay_message(subject, &format!("due+{o}"), base + o))
        .collect();
    batch.push(delay_message(subject, "past", base - 60_000));
    let failures = producer.send(&batch).await.failures;
    assert!(failures.is_empty(), "{failures:?}");
    let sent_ms = now_ms();

    // The past one is delivered at once.
    let mut got = Vec::new();
    consumer
        .pull_until(subject, 1, Duration::from_secs(10), &mut got)
        .await;
    assert_eq!(
        got.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["past"]
    );
    assert!(
        got[0].at_ms <= sent_ms + LATE_BOUND_MS,
        "past time is due now"
    );
    // Before the first schedule time the broker has nothing more.
    let early = consumer.pull_once(subject, 10, 0).await;
    if now_ms() < base + 1_000 - EARLY_SLACK_MS {
        assert!(early.is_empty(), "pulled before due: {early:?}");
    }
    got.extend(early);

    consumer
        .pull_until(
            subject,
            offsets.len() + 1,
            Duration::from_secs(12),
            &mut got,
        )
        .await;
    let mut sorted = offsets.to_vec();
    sorted.sort_unstable();
    let expected: Vec<String> = std::iter::once("past".to_owned())
        .chain(sorted.iter().map(|o| format!("due+{o}")))
        .collect();
    let ids: Vec<&str> = got.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, expected, "each once, in delivery-time order");
    assert_on_time(&got[1..]);
    // Nothing else follows.
    assert!(consumer.pull_once(subject, 10, 300).await.is_empty());
}

#[tokio::test]
async fn bad_schedule_times_are_refused_with_a_clear_remark() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let subject = "delay.bad";
    let mut consumer = Puller::new(&server, "g").await;
    consumer.subscribe(subject).await;
    let mut producer = TestClient::connect(server.delay()).await;
    let now = now_ms();
    let batch = [
        delay_message(subject, "negative", -1),
        delay_message(subject, "beyond", now + TWO_YEARS_MS + 3_600_000),
        delay_message(subject, "overflow", i64::MAX),
        delay_message(subject, "good", now - 1),
    ];
    let failures = producer.send(&batch).await.failures;
    let by_id: HashMap<&str, (i32, &str)> = failures
        .iter()
        .map(|f| (f.message_id.as_str(), (f.code, f.remark.as_str())))
        .collect();
    assert_eq!(by_id.len(), 3, "{failures:?}");
    for (id, needle) in [
        ("negative", "is negative"),
        ("beyond", "beyond the maximum delay"),
        ("overflow", "overflows"),
    ] {
        let (code, remark) = by_id.get(id).unwrap_or_else(|| panic!("{id} refused"));
        // BROKER_BUSY: final for the Java client, which must not resend a hopeless message.
        assert_eq!(*code, MessageProducerCode::BrokerBusy.as_i32(), "{id}");
        assert!(
            remark.contains(needle) && remark.contains("schedule time"),
            "{id}: remark {remark:?} should say {needle:?}"
        );
    }
    // The good one of the same request is delivered, the bad ones never are.
    let mut got = Vec::new();
    consumer
        .pull_until(subject, 1, Duration::from_secs(10), &mut got)
        .await;
    got.extend(consumer.pull_once(subject, 10, 500).await);
    let ids: Vec<&str> = got.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["good"]);
}

#[tokio::test]
async fn sigterm_restart_mid_bucket_delivers_each_pending_message_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]);
    let ports = server.ports;
    let subject = "delay.restart";
    let mut consumer = Puller::new(&server, "g").await;
    consumer.subscribe(subject).await;
    let mut producer = TestClient::connect(server.delay()).await;
    let base = now_ms();
    const N: usize = 20;
    let batch: Vec<Message> = (0..N)
        .map(|i| delay_message(subject, &format!("r{i:02}"), base + 1_000 + 200 * i as i64))
        .collect();
    assert!(producer.send(&batch).await.failures.is_empty());
    drop(producer);

    let mut got = Vec::new();
    consumer
        .pull_until(subject, 3, Duration::from_secs(10), &mut got)
        .await;
    assert!(got.len() >= 3, "first messages delivered: {got:?}");
    assert!(
        got.len() < N,
        "restart happens mid-way: {} of {N}",
        got.len()
    );
    drop(consumer);
    assert!(server.stop().success(), "clean exit on SIGTERM");

    let server = ServerProcess::start_with_ports(&data, &[], Some(ports));
    let mut consumer = Puller::new(&server, "g").await;
    consumer
        .pull_until(subject, N, Duration::from_secs(15), &mut got)
        .await;
    // Give a stray re-send time to show up.
    got.extend(consumer.pull_once(subject, N, 500).await);
    let n = counts(&got);
    let twice: Vec<_> = n.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    let ids: Vec<&str> = got.iter().map(|a| a.id.as_str()).collect();
    let expected: Vec<String> = (0..N).map(|i| format!("r{i:02}")).collect();
    assert_eq!(ids, expected, "all of them, once, in order");
    assert_on_time(&got);
}

#[tokio::test]
async fn kill_9_during_dispatch_loses_nothing_and_duplicates_only_what_was_in_flight() {
    const PER_SUBJECT: usize = 1_000;
    const DISPATCH_BATCH: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = config_file(
        dir.path(),
        &format!(
            "[broker]\nflush = \"sync\"\n[delay]\nflush = \"sync_before_ack\"\n\
             dispatch_batch = {DISPATCH_BATCH}\n"
        ),
    );
    let args = ["--config", config.as_str()];
    let server = ServerProcess::start(&data, &args);
    let ports = server.ports;
    let subjects = ["delay.kill.a", "delay.kill.b"];
    // `g` reads only after the crash; `probe` watches for the first delivery.
    let mut consumer = Puller::new(&server, "g").await;
    let mut probe = Puller::new(&server, "probe").await;
    for s in subjects {
        consumer.subscribe(s).await;
        probe.subscribe(s).await;
    }
    drop(consumer);
    let mut producer = TestClient::connect(server.delay()).await;
    let due = now_ms() + 1_500;
    for chunk in 0..PER_SUBJECT / 100 {
        for s in subjects {
            let batch: Vec<Message> = (0..100)
                .map(|i| delay_message(s, &format!("{s}-{}", chunk * 100 + i), due))
                .collect();
            assert!(producer.send(&batch).await.failures.is_empty());
        }
    }
    drop(producer);
    let mut first = Vec::new();
    probe
        .pull_until(subjects[0], 1, Duration::from_secs(15), &mut first)
        .await;
    assert!(!first.is_empty(), "dispatch started");
    server.kill9();
    assert_not_early(&first);

    let server = ServerProcess::start_with_ports(&data, &args, Some(ports));
    let mut consumer = Puller::new(&server, "g").await;
    let mut duplicates = 0;
    for s in subjects {
        let mut got = Vec::new();
        consumer
            .pull_until(s, PER_SUBJECT, Duration::from_secs(20), &mut got)
            .await;
        got.extend(consumer.pull_once(s, PER_SUBJECT, 500).await);
        let n = counts(&got);
        let missing: Vec<String> = (0..PER_SUBJECT)
            .map(|i| format!("{s}-{i}"))
            .filter(|id| !n.contains_key(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{s}: {} lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        assert_eq!(n.len(), PER_SUBJECT, "{s}: nothing unexpected");
        duplicates += got.len() - PER_SUBJECT;
        // Late by the restart, but never early.
        assert_not_early(&got);
    }
    eprintln!("kill -9 during dispatch: {duplicates} duplicates");
    assert!(
        duplicates <= DISPATCH_BATCH,
        "{duplicates} duplicates, more than one dispatch round ({DISPATCH_BATCH}) was in flight"
    );
}
