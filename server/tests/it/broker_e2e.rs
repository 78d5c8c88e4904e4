//! Send, pull, ack, tags, broadcast and retries through the binary.

use std::time::{Duration, Instant};

use qmq_core::protocol::names::retry_subject;
use qmq_core::protocol::{PullFilter, TagType};

use crate::support::client::{TestClient, ack_request, message, pull_request};
use crate::support::server::ServerProcess;

pub fn config_file(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("test-config.toml");
    std::fs::write(&path, format!("[broker]\nretry_delay_ms = 500\n{extra}")).unwrap();
    path.to_string_lossy().into_owned()
}

/// Pulls until `n` messages arrived (or 10 s passed); acks nothing.
pub async fn pull_n(
    c: &mut TestClient,
    subject: &str,
    group: &str,
    consumer: &str,
    n: usize,
) -> Vec<(i64, qmq_core::protocol::Message)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < n && Instant::now() < deadline {
        let req = pull_request(subject, group, consumer, (n - out.len()) as i32, 1000);
        if let Some(resp) = c.pull(&req).await {
            for (i, m) in resp.messages.into_iter().enumerate() {
                out.push((resp.pull_log_offset + i as i64, m));
            }
        }
    }
    out
}

#[tokio::test]
async fn send_pull_ack_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut c = TestClient::connect(server.broker()).await;
    // A new group starts at the latest message: subscribe first with an empty pull.
    assert!(
        c.pull(&pull_request("s1", "g", "c1", 10, 0))
            .await
            .is_none()
    );
    let msgs: Vec<_> = (0..20)
        .map(|i| message("s1", &format!("id-{i}"), &[], &[("n", &i.to_string())]))
        .collect();
    assert!(c.send(&msgs).await.failures.is_empty());
    let got = pull_n(&mut c, "s1", "g", "c1", 20).await;
    assert_eq!(got.len(), 20);
    for (i, (offset, m)) in got.iter().enumerate() {
        assert_eq!(*offset, i as i64);
        assert_eq!(m.header.message_id, format!("id-{i}"));
        assert_eq!(m.attr("n"), Some(i.to_string().as_str()));
    }
    assert_eq!(c.ack(&ack_request("s1", "g", "c1", 0, 19)).await, 0);
    // Nothing left, and a heartbeat ack is accepted.
    assert!(
        c.pull(&pull_request("s1", "g", "c1", 10, 0))
            .await
            .is_none()
    );
    assert_eq!(c.ack(&ack_request("s1", "g", "c1", -1, -1)).await, 0);
}

#[tokio::test]
async fn long_poll_wakes_on_new_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut consumer = TestClient::connect(server.broker()).await;
    assert!(
        consumer
            .pull(&pull_request("lp", "g", "c", 1, 0))
            .await
            .is_none()
    );
    let broker = server.broker();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut p = TestClient::connect(broker).await;
        p.send(&[message("lp", "x", &[], &[])]).await
    });
    let started = Instant::now();
    let got = consumer
        .pull(&pull_request("lp", "g", "c", 1, 10_000))
        .await;
    assert!(got.is_some(), "long poll returned the new message");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woken, not timed out"
    );
    assert!(sender.await.unwrap().failures.is_empty());
    assert_eq!(consumer.ack(&ack_request("lp", "g", "c", 0, 0)).await, 0);
    // With nothing new the poll waits for its timeout, then answers NO_MESSAGE.
    let started = Instant::now();
    assert!(
        consumer
            .pull(&pull_request("lp", "g", "c", 1, 400))
            .await
            .is_none()
    );
    assert!(started.elapsed() >= Duration::from_millis(350));
}

#[tokio::test]
async fn tag_filters_and_or() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut c = TestClient::connect(server.broker()).await;
    for g in ["or", "and"] {
        assert!(c.pull(&pull_request("t", g, "c", 1, 0)).await.is_none());
    }
    let msgs = vec![
        message("t", "none", &[], &[]),
        message("t", "a", &["a"], &[]),
        message("t", "b", &["b"], &[]),
        message("t", "ab", &["a", "b"], &[]),
    ];
    assert!(c.send(&msgs).await.failures.is_empty());
    let tags = vec!["a".to_string(), "b".to_string()];
    let mut or = pull_request("t", "or", "c", 10, 1000);
    or.filters = vec![PullFilter::Tag {
        tag_type: TagType::Or,
        tags: tags.clone(),
    }];
    let mut and = pull_request("t", "and", "c", 10, 1000);
    and.filters = vec![PullFilter::Tag {
        tag_type: TagType::And,
        tags,
    }];
    let ids = |r: Option<qmq_core::protocol::PullMessageResponse>| -> Vec<String> {
        r.map(|r| {
            r.messages
                .into_iter()
                .map(|m| m.header.message_id)
                .collect()
        })
        .unwrap_or_default()
    };
    assert_eq!(ids(c.pull(&or).await), ["a", "b", "ab"]);
    assert_eq!(ids(c.pull(&and).await), ["ab"]);
}

#[tokio::test]
async fn broadcast_gives_every_consumer_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut c = TestClient::connect(server.broker()).await;
    let bcast = |consumer: &str| {
        let mut r = pull_request("b", consumer, consumer, 10, 1000);
        r.is_broadcast = true;
        r
    };
    for consumer in ["c1", "c2"] {
        let mut r = bcast(consumer);
        r.timeout_millis = 0;
        assert!(c.pull(&r).await.is_none());
    }
    let msgs: Vec<_> = (0..5)
        .map(|i| message("b", &format!("m{i}"), &[], &[]))
        .collect();
    assert!(c.send(&msgs).await.failures.is_empty());
    for consumer in ["c1", "c2"] {
        let resp = c.pull(&bcast(consumer)).await.expect("messages");
        assert_eq!(resp.messages.len(), 5, "{consumer} sees every message");
    }
}

#[tokio::test]
async fn ack_gap_sends_the_gap_to_the_retry_subject() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path(), "");
    let server = ServerProcess::start(&dir.path().join("data"), &["--config", &config]);
    let mut c = TestClient::connect(server.broker()).await;
    assert!(c.pull(&pull_request("r", "g", "c", 1, 0)).await.is_none());
    let msgs: Vec<_> = (0..3)
        .map(|i| message("r", &format!("m{i}"), &[], &[]))
        .collect();
    assert!(c.send(&msgs).await.failures.is_empty());
    let got = pull_n(&mut c, "r", "g", "c", 3).await;
    assert_eq!(got.len(), 3);
    // Ack only the last one: offsets 0 and 1 form a gap and count as failed.
    assert_eq!(c.ack(&ack_request("r", "g", "c", 2, 2)).await, 0);
    let retry = retry_subject("r", "g");
    let started = Instant::now();
    let redelivered = pull_n(&mut c, &retry, "g", "c", 2).await;
    let ids: Vec<_> = redelivered
        .iter()
        .map(|(_, m)| m.header.message_id.clone())
        .collect();
    assert_eq!(ids, ["m0", "m1"]);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "held back for the retry delay"
    );
    assert!(c.pull(&pull_request("r", "g", "c", 10, 0)).await.is_none());
}

#[tokio::test]
async fn a_long_poll_of_a_departed_client_takes_no_messages() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut gone = TestClient::connect(server.broker()).await;
    assert!(
        gone.pull(&pull_request("dep", "g", "gone", 1, 0))
            .await
            .is_none()
    );
    // Park a long poll, then hang up while it waits.
    let mut body = bytes::BytesMut::new();
    pull_request("dep", "g", "gone", 10, 20_000).encode(9, &mut body);
    let mut frame = bytes::BytesMut::new();
    qmq_core::protocol::Frame::new(
        qmq_core::protocol::Header::request(qmq_core::protocol::RequestCode::PullMessage, 9, 1),
        body.freeze(),
    )
    .encode(&mut frame);
    gone.write_raw(&frame).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(gone);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut c = TestClient::connect(server.broker()).await;
    assert!(
        c.send(&[message("dep", "m", &[], &[])])
            .await
            .failures
            .is_empty()
    );
    let got = pull_n(&mut c, "dep", "g", "other", 1).await;
    assert_eq!(
        got.len(),
        1,
        "the message went to a live consumer, not the departed one"
    );
}
