//! Delay and schedule sends of the client core against an in-process standalone server: meta
//! routes them to the delay role, which hands them to the broker when due, and a pull consumer
//! sees them no earlier than scheduled and in delivery-time order. Delays under 500 ms and bad
//! schedule times are covered too.
//!
//! Wall-clock bounds are strict below (10 ms for clock reads) and generous above (5 s).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmq_core::client::consumer::ConsumeOptions;
use qmq_core::client::{Client, ClientError, ProducerMessage};
use qmq_core::protocol::names::attr;

use crate::consumer_support::{TestServer, WARM_UP, now_ms};

const EARLY_SLACK_MS: i64 = 10;
const LATE_BOUND_MS: i64 = 5_000;
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

fn with_body(mut m: ProducerMessage, body: &str) -> ProducerMessage {
    m.set_property("body", body).expect("property");
    m
}

/// A message as the consumer saw it.
#[derive(Debug)]
struct Arrival {
    body: String,
    at_ms: i64,
    is_delay: bool,
    schedule_ms: Option<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_scheduled_sends_arrive_no_earlier_than_due_and_in_order() {
    let server = TestServer::start().await;
    let (broker_group, delay_group) = {
        let config = server.server.as_ref().expect("running").config();
        (
            config.broker.group_name.clone(),
            config.delay.group_name.clone(),
        )
    };
    let subject = "e2e.delay.order";
    let client = Client::new(server.client_config()).expect("client");
    let producer = client.producer();
    let consumer = client.consumer().expect("consumer");
    let pull = consumer
        .pull_consumer(subject, "g", ConsumeOptions::default())
        .expect("pull consumer");

    // A new group starts at the newest message: wait until a plain message gets through.
    let mut warm = false;
    for _ in 0..50 {
        let m = with_body(producer.generate_message(subject).unwrap(), WARM_UP);
        tokio::time::timeout(SEND_TIMEOUT, producer.send(m))
            .await
            .expect("send answered")
            .expect("warm-up sent");
        let got = pull.pull(10, Duration::from_millis(300)).await.unwrap();
        warm |= !got.is_empty();
        got.into_iter().for_each(|d| d.ack());
        if warm {
            break;
        }
    }
    assert!(warm, "consumer group registered");

    // Sent in the opposite order of their delivery times.
    let mut later = with_body(producer.generate_message(subject).unwrap(), "delay-2s");
    later.set_delay(Duration::from_secs(2)).unwrap();
    let mut sooner = with_body(producer.generate_message(subject).unwrap(), "until-1s");
    sooner
        .set_delay_until(SystemTime::now() + Duration::from_secs(1))
        .unwrap();
    let mut short = with_body(producer.generate_message(subject).unwrap(), "delay-200ms");
    short.set_delay(Duration::from_millis(200)).unwrap();
    let due_of = |m: &ProducerMessage| epoch_ms(m.schedule_time().expect("scheduled"));
    let (later_due, sooner_due) = (due_of(&later), due_of(&sooner));
    let futures = [
        producer.send(later),
        producer.send(sooner),
        producer.send(short),
    ];
    let mut groups = Vec::new();
    for f in futures {
        let receipt = tokio::time::timeout(SEND_TIMEOUT, f)
            .await
            .expect("send answered")
            .expect("sent");
        groups.push(receipt.broker_group);
    }
    assert_eq!(
        groups,
        [
            delay_group.as_str(),
            delay_group.as_str(),
            broker_group.as_str()
        ],
        "delays of 500 ms or more go to the delay role, shorter ones straight to the broker"
    );

    let mut got: Vec<Arrival> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while got.len() < 3 && tokio::time::Instant::now() < deadline {
        let batch = pull.pull(3 - got.len(), Duration::from_millis(500)).await;
        let at_ms = now_ms();
        for d in batch.expect("pull") {
            let m = d.message();
            got.push(Arrival {
                body: m.attr("body").unwrap_or_default().to_owned(),
                at_ms,
                is_delay: m.header.is_delay(),
                schedule_ms: m
                    .attr(attr::SCHEDULE_RECEIVE_TIME)
                    .and_then(|t| t.parse().ok()),
            });
            d.ack();
        }
    }
    let bodies: Vec<&str> = got.iter().map(|a| a.body.as_str()).collect();
    assert_eq!(
        bodies,
        ["delay-200ms", "until-1s", "delay-2s"],
        "in delivery-time order: {got:?}"
    );
    assert!(!got[0].is_delay, "a short delay is an ordinary message");
    for (a, due) in got[1..].iter().zip([sooner_due, later_due]) {
        assert!(a.is_delay, "{} keeps its delay flag", a.body);
        assert_eq!(a.schedule_ms, Some(due), "{} keeps its schedule", a.body);
        assert!(
            a.at_ms >= due - EARLY_SLACK_MS,
            "{} arrived {} ms early",
            a.body,
            due - a.at_ms
        );
        assert!(
            a.at_ms <= due + LATE_BOUND_MS,
            "{} arrived {} ms late",
            a.body,
            a.at_ms - due
        );
    }
    // Nothing is delivered twice.
    let extra = pull.pull(10, Duration::from_millis(300)).await.unwrap();
    let extra: Vec<String> = extra
        .into_iter()
        .map(|d| {
            let body = d.attr("body").unwrap_or_default().to_owned();
            d.ack();
            body
        })
        .collect();
    assert!(extra.is_empty(), "unexpected {extra:?}");

    pull.close().await;
    client
        .close_async(Duration::from_secs(5))
        .await
        .expect("close");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedule_times_are_clear_errors() {
    let server = TestServer::start().await;
    let client = Client::new(server.client_config()).expect("client");
    let producer = client.producer();
    let subject = "e2e.delay.bad";

    // Unrepresentable times fail when set.
    let mut m = producer.generate_message(subject).unwrap();
    let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
    assert!(matches!(
        m.set_delay_until(before_1970),
        Err(ClientError::InvalidScheduleTime { .. })
    ));
    assert!(matches!(
        m.set_delay(Duration::MAX),
        Err(ClientError::InvalidScheduleTime { .. })
    ));

    // Beyond the delay role's two-year maximum: refused, finally, with the server's reason.
    let mut far = producer.generate_message(subject).unwrap();
    far.set_delay(Duration::from_secs(3 * 365 * 24 * 3_600))
        .unwrap();
    let err = tokio::time::timeout(SEND_TIMEOUT, producer.send(far))
        .await
        .expect("send answered")
        .expect_err("refused");
    match &err {
        ClientError::SendRejected { remark, .. } => assert!(
            remark.contains("beyond the maximum delay"),
            "remark {remark:?}"
        ),
        other => panic!("expected SendRejected, got {other:?}"),
    }
    assert!(
        err.to_string().contains("beyond the maximum delay"),
        "{err}"
    );

    client
        .close_async(Duration::from_secs(5))
        .await
        .expect("close");
    server.stop().await;
}
