//! Consumer semantics in-process: store + manager, no TCP.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qmq_core::protocol::message::FLAG_TAGS;
use qmq_core::protocol::names::retry_subject;
use qmq_core::protocol::{
    AckRequest, ConsumeFromWhere, Message, MessageHeader, PullFilter, PullRequest, TagType,
};

use super::*;
use crate::broker::store::{AppendMessage, StoreConfig};

struct Fixture {
    _dir: tempfile::TempDir,
    manager: Arc<ConsumerManager>,
}

fn config() -> StoreConfig {
    StoreConfig {
        message_segment_size: 64 * 1024,
        action_segment_size: 16 * 1024,
        consume_log_units_per_segment: 128,
        pull_log_units_per_segment: 128,
        ..StoreConfig::default()
    }
}

fn fixture(retry_delay: Duration) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(config(), dir.path()).unwrap());
    Fixture {
        manager: Arc::new(ConsumerManager::new(store, retry_delay)),
        _dir: dir,
    }
}

fn record(subject: &str, id: &str, tags: &[&str]) -> (i64, Bytes) {
    let mut m = Message::default();
    m.header.subject = subject.into();
    m.header.message_id = id.into();
    m.header.created_time = 1;
    if !tags.is_empty() {
        m.header.flag = FLAG_TAGS;
        m.header.tags = tags.iter().map(|t| t.to_string()).collect();
    }
    m.set_attr("k", id);
    let mut buf = BytesMut::new();
    m.encode_payload(&mut buf);
    let payload = buf.freeze();
    (i64::from(crc32fast::hash(&payload)), payload)
}

fn send(manager: &ConsumerManager, subject: &str, messages: &[(&str, &[&str])]) {
    let records: Vec<(i64, Bytes)> = messages
        .iter()
        .map(|(id, tags)| record(subject, id, tags))
        .collect();
    let batch: Vec<AppendMessage<'_>> = records
        .iter()
        .map(|(crc, payload)| AppendMessage {
            subject,
            crc: *crc,
            payload,
        })
        .collect();
    manager.store().append(&batch).unwrap();
    manager.notify(subject);
}

fn request(subject: &str, group: &str, consumer: &str, n: i32, timeout: i64) -> PullRequest {
    PullRequest {
        subject: subject.into(),
        group: group.into(),
        consumer_id: consumer.into(),
        request_num: n,
        offset: -1,
        pull_offset_begin: -1,
        pull_offset_last: -1,
        timeout_millis: timeout,
        is_broadcast: false,
        filters: Vec::new(),
    }
}

fn ack(subject: &str, group: &str, consumer: &str, first: i64, last: i64) -> AckRequest {
    AckRequest {
        subject: subject.into(),
        group: group.into(),
        consumer_id: consumer.into(),
        pull_offset_begin: first,
        pull_offset_last: last,
        is_broadcast: false,
    }
}

fn ids(batch: &PullBatch) -> Vec<String> {
    batch
        .payloads
        .iter()
        .map(|p| MessageHeader::decode_payload(p).unwrap().0.message_id)
        .collect()
}

async fn pull(f: &Fixture, req: &PullRequest) -> Option<PullBatch> {
    f.manager.pull(req).await.unwrap()
}

#[tokio::test]
async fn new_group_starts_at_latest_message() {
    let f = fixture(Duration::ZERO);
    send(&f.manager, "s", &[("old1", &[]), ("old2", &[])]);
    assert!(pull(&f, &request("s", "g", "c", 10, 0)).await.is_none());
    send(&f.manager, "s", &[("new1", &[]), ("new2", &[])]);
    let batch = pull(&f, &request("s", "g", "c", 10, 0)).await.unwrap();
    assert_eq!(ids(&batch), ["new1", "new2"]);
    assert_eq!(batch.first_pull_offset, 0);
}

#[tokio::test]
async fn lost_pulls_are_redelivered_before_new_messages() {
    let f = fixture(Duration::ZERO);
    assert!(pull(&f, &request("s", "g", "c", 10, 0)).await.is_none());
    send(&f.manager, "s", &[("m0", &[]), ("m1", &[]), ("m2", &[])]);
    let first = pull(&f, &request("s", "g", "c", 10, 0)).await.unwrap();
    assert_eq!(ids(&first), ["m0", "m1", "m2"]);
    // The client says it has nothing: the server re-sends what it handed out.
    let again = pull(&f, &request("s", "g", "c", 2, 0)).await.unwrap();
    assert_eq!(
        (again.first_pull_offset, ids(&again)),
        (0, vec!["m0".into(), "m1".into()])
    );
    // After acking [0, 0] the re-send starts at offset 1.
    let outcome = f.manager.ack(&ack("s", "g", "c", 0, 0)).unwrap().unwrap();
    assert_eq!(
        outcome,
        AckOutcome::Acked {
            first: 0,
            last: 0,
            retried: 0
        }
    );
    let again = pull(&f, &request("s", "g", "c", 10, 0)).await.unwrap();
    assert_eq!(
        (again.first_pull_offset, ids(&again)),
        (1, vec!["m1".into(), "m2".into()])
    );
    // A client reporting everything received gets new messages at the next offsets.
    send(&f.manager, "s", &[("m3", &[])]);
    let mut req = request("s", "g", "c", 10, 0);
    req.pull_offset_last = 2;
    let fresh = pull(&f, &req).await.unwrap();
    assert_eq!(
        (fresh.first_pull_offset, ids(&fresh)),
        (3, vec!["m3".into()])
    );
    // Acks: full range, duplicates, and beyond what was pulled.
    assert!(matches!(
        f.manager.ack(&ack("s", "g", "c", 1, 3)).unwrap(),
        Ok(AckOutcome::Acked {
            first: 1,
            last: 3,
            retried: 0
        })
    ));
    assert_eq!(
        f.manager.ack(&ack("s", "g", "c", 0, 3)).unwrap(),
        Ok(AckOutcome::Duplicate)
    );
    assert_eq!(
        f.manager.ack(&ack("s", "g", "c", 4, 9)).unwrap(),
        Ok(AckOutcome::Duplicate)
    );
    assert_eq!(
        f.manager.ack(&ack("s", "g", "c", -1, -1)).unwrap(),
        Ok(AckOutcome::Heartbeat)
    );
    assert!(pull(&f, &request("s", "g", "c", 10, 0)).await.is_none());
}

#[tokio::test]
async fn consumers_of_a_group_share_the_messages() {
    let f = fixture(Duration::ZERO);
    assert!(pull(&f, &request("s", "g", "c1", 1, 0)).await.is_none());
    send(&f.manager, "s", &[("a", &[]), ("b", &[]), ("c", &[])]);
    let one = pull(&f, &request("s", "g", "c1", 2, 0)).await.unwrap();
    let two = pull(&f, &request("s", "g", "c2", 2, 0)).await.unwrap();
    assert_eq!(ids(&one), ["a", "b"]);
    assert_eq!((two.first_pull_offset, ids(&two)), (0, vec!["c".into()]));
}

#[tokio::test]
async fn tag_filters_and_or_skip_untagged_and_move_the_cursor() {
    let f = fixture(Duration::ZERO);
    let tag = |tag_type, tags: &[&str]| PullFilter::Tag {
        tag_type,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let mut or = request("t", "or", "c", 10, 0);
    or.filters = vec![tag(TagType::Or, &["a", "b"])];
    let mut and = request("t", "and", "c", 10, 0);
    and.filters = vec![tag(TagType::And, &["a", "b"])];
    let mut none = request("t", "none", "c", 10, 0);
    none.filters = vec![tag(TagType::NoTag, &[])];
    for r in [&or, &and, &none] {
        assert!(pull(&f, r).await.is_none());
    }
    send(
        &f.manager,
        "t",
        &[
            ("plain", &[]),
            ("a", &["a"]),
            ("b", &["b"]),
            ("ab", &["a", "b"]),
            ("c", &["c"]),
        ],
    );
    assert_eq!(ids(&pull(&f, &or).await.unwrap()), ["a", "b", "ab"]);
    let and_batch = pull(&f, &and).await.unwrap();
    assert_eq!(
        (and_batch.first_pull_offset, ids(&and_batch)),
        (0, vec!["ab".into()])
    );
    assert_eq!(ids(&pull(&f, &none).await.unwrap()).len(), 5);
    // Filtered-out messages were passed over for good: only new matches come next.
    send(&f.manager, "t", &[("x", &["x"])]);
    let mut and_next = and.clone();
    and_next.pull_offset_last = 0;
    assert!(
        pull(&f, &and_next).await.is_none(),
        "all filtered: immediate NO_MESSAGE"
    );
    send(&f.manager, "t", &[("ab2", &["b", "a"])]);
    let batch = pull(&f, &and_next).await.unwrap();
    assert_eq!(
        (batch.first_pull_offset, ids(&batch)),
        (1, vec!["ab2".into()])
    );
    let progress = f
        .manager
        .store()
        .group_progress("t", "and")
        .unwrap()
        .unwrap();
    assert_eq!(progress.pull, 6);
}

#[tokio::test]
async fn ack_gap_copies_the_gap_to_the_retry_subject() {
    let f = fixture(Duration::ZERO);
    assert!(pull(&f, &request("r", "g", "c", 1, 0)).await.is_none());
    send(
        &f.manager,
        "r",
        &[("m0", &[]), ("m1", &[]), ("m2", &[]), ("m3", &[])],
    );
    let batch = pull(&f, &request("r", "g", "c", 10, 0)).await.unwrap();
    assert_eq!(batch.payloads.len(), 4);
    let outcome = f.manager.ack(&ack("r", "g", "c", 2, 2)).unwrap().unwrap();
    assert_eq!(
        outcome,
        AckOutcome::Acked {
            first: 0,
            last: 2,
            retried: 2
        }
    );
    let retry = retry_subject("r", "g");
    let stored = f.manager.store().read(&retry, 0, 10).unwrap().messages;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].payload, batch.payloads[0], "original bytes kept");
    assert_eq!(stored[1].payload, batch.payloads[1]);
    // The retry subject is consumed by the same group, from its first message.
    let redelivered = pull(&f, &request(&retry, "g", "c", 10, 0)).await.unwrap();
    assert_eq!(ids(&redelivered), ["m0", "m1"]);
    // A gap in the retry subject goes back to the same retry subject.
    f.manager
        .ack(&ack(&retry, "g", "c", 1, 1))
        .unwrap()
        .unwrap();
    assert_eq!(f.manager.store().max_sequence(&retry).unwrap(), 2);
}

#[tokio::test]
async fn retry_messages_are_held_back_for_the_retry_delay() {
    let f = fixture(Duration::from_secs(3600));
    assert!(pull(&f, &request("r", "g", "c", 1, 0)).await.is_none());
    send(&f.manager, "r", &[("m0", &[]), ("m1", &[])]);
    pull(&f, &request("r", "g", "c", 10, 0)).await.unwrap();
    f.manager.ack(&ack("r", "g", "c", 1, 1)).unwrap().unwrap();
    let retry = retry_subject("r", "g");
    assert_eq!(f.manager.store().max_sequence(&retry).unwrap(), 0);
    assert!(pull(&f, &request(&retry, "g", "c", 10, 0)).await.is_none());
}

#[tokio::test]
async fn long_poll_returns_retry_message_once_due() {
    let f = fixture(Duration::from_millis(150));
    assert!(pull(&f, &request("r", "g", "c", 1, 0)).await.is_none());
    send(&f.manager, "r", &[("m0", &[]), ("m1", &[])]);
    pull(&f, &request("r", "g", "c", 10, 0)).await.unwrap();
    let started = std::time::Instant::now();
    f.manager.ack(&ack("r", "g", "c", 1, 1)).unwrap().unwrap();
    let retry = retry_subject("r", "g");
    let batch = pull(&f, &request(&retry, "g", "c", 10, 5_000))
        .await
        .unwrap();
    assert_eq!(ids(&batch), ["m0"]);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(140), "{waited:?}");
    assert!(
        waited < Duration::from_secs(4),
        "woken at the due time, not the deadline"
    );
}

#[tokio::test]
async fn broadcast_hands_every_message_to_every_client() {
    let f = fixture(Duration::ZERO);
    let bcast = |client: &str| {
        let mut r = request("b", client, client, 10, 0);
        r.is_broadcast = true;
        r
    };
    send(&f.manager, "b", &[("before", &[])]);
    for client in ["c1", "c2"] {
        assert!(pull(&f, &bcast(client)).await.is_none());
    }
    send(&f.manager, "b", &[("m1", &[]), ("m2", &[])]);
    for client in ["c1", "c2"] {
        let batch = pull(&f, &bcast(client)).await.unwrap();
        assert_eq!(ids(&batch), ["m1", "m2"]);
        assert_eq!(
            batch.first_pull_offset, 1,
            "offsets are consume-log sequences"
        );
        let mut next = bcast(client);
        next.pull_offset_last = 2;
        assert!(pull(&f, &next).await.is_none());
    }
    let store = f.manager.store();
    assert!(
        store
            .pull_log_read("c1", "c1", "b", 0, 10)
            .unwrap()
            .is_empty()
    );
    assert!(store.group_progress("b", "c1").unwrap().unwrap().broadcast);
}

#[tokio::test]
async fn invalid_requests_get_no_message_or_rejection() {
    let f = fixture(Duration::ZERO);
    for r in [
        request("", "g", "c", 1, 0),
        request("a b", "g", "c", 1, 0),
        request("s", "g/x", "c", 1, 0),
        request("s", "g", "..", 1, 0),
        request("s", "g", "c", 0, 0),
    ] {
        assert!(pull(&f, &r).await.is_none(), "{r:?}");
    }
    assert_eq!(
        f.manager.ack(&ack("s", "", "c", 0, 1)).unwrap(),
        Err(AckRejection::InvalidName)
    );
    // requestNum above 10000 is clamped, not refused.
    assert!(
        pull(&f, &request("s", "g", "c", i32::MAX, 0))
            .await
            .is_none()
    );
    send(&f.manager, "s", &[("x", &[])]);
    assert!(
        pull(&f, &request("s", "g", "c", i32::MAX, 0))
            .await
            .is_some()
    );
}

#[tokio::test(start_paused = true)]
async fn long_poll_parks_until_a_message_arrives() {
    let f = fixture(Duration::ZERO);
    assert!(pull(&f, &request("lp", "g", "c", 1, 0)).await.is_none());
    let manager = Arc::clone(&f.manager);
    let started = tokio::time::Instant::now();
    let poll = tokio::spawn(async move {
        manager
            .pull(&request("lp", "g", "c", 1, 60_000))
            .await
            .unwrap()
    });
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(!poll.is_finished(), "parked while nothing arrived");
    send(&f.manager, "lp", &[("wake", &[])]);
    let batch = poll.await.unwrap().unwrap();
    assert_eq!(ids(&batch), ["wake"]);
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn long_poll_times_out_with_no_message() {
    let f = fixture(Duration::ZERO);
    let started = tokio::time::Instant::now();
    assert!(pull(&f, &request("lp", "g", "c", 1, 400)).await.is_none());
    assert!(started.elapsed() >= Duration::from_millis(400));
    // A message for another subject does not wake it.
    let manager = Arc::clone(&f.manager);
    let poll = tokio::spawn(async move { manager.pull(&request("lp", "g", "c", 1, 400)).await });
    tokio::task::yield_now().await;
    send(&f.manager, "other", &[("x", &[])]);
    assert!(poll.await.unwrap().unwrap().is_none());
}

#[tokio::test]
async fn progress_survives_a_restart_without_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(Store::open(config(), dir.path()).unwrap());
        let manager = ConsumerManager::new(store, Duration::ZERO);
        assert!(
            manager
                .pull(&request("d", "g", "c", 1, 0))
                .await
                .unwrap()
                .is_none()
        );
        send(
            &manager,
            "d",
            &[("m0", &[]), ("m1", &[]), ("m2", &[]), ("m3", &[])],
        );
        let batch = manager
            .pull(&request("d", "g", "c", 3, 0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ids(&batch), ["m0", "m1", "m2"]);
        manager.ack(&ack("d", "g", "c", 0, 1)).unwrap().unwrap();
    }
    let store = Arc::new(Store::open(config(), dir.path()).unwrap());
    let manager = ConsumerManager::new(store, Duration::ZERO);
    let lost = manager
        .pull(&request("d", "g", "c", 10, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((lost.first_pull_offset, ids(&lost)), (2, vec!["m2".into()]));
    let mut req = request("d", "g", "c", 10, 0);
    req.pull_offset_last = 2;
    let rest = manager.pull(&req).await.unwrap().unwrap();
    assert_eq!((rest.first_pull_offset, ids(&rest)), (3, vec!["m3".into()]));
}

#[tokio::test]
async fn reset_moves_the_group_cursor_durably() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Arc::new(Store::open(config(), dir.path()).unwrap());
        let manager = ConsumerManager::new(store, Duration::ZERO);
        send(&manager, "s", &[("m0", &[]), ("m1", &[])]);
        assert!(
            manager
                .pull(&request("s", "g", "c", 1, 0))
                .await
                .unwrap()
                .is_none()
        );
        manager.reset("s", "g", ConsumeFromWhere::Earliest).unwrap();
    }
    let store = Arc::new(Store::open(config(), dir.path()).unwrap());
    let manager = ConsumerManager::new(store, Duration::ZERO);
    let batch = manager
        .pull(&request("s", "g", "c", 10, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ids(&batch), ["m0", "m1"]);
    send(&manager, "s", &[("m2", &[])]);
    manager.reset("s", "g", ConsumeFromWhere::Latest).unwrap();
    let mut req = request("s", "g", "c", 10, 0);
    req.pull_offset_last = 1;
    assert!(manager.pull(&req).await.unwrap().is_none());
}
