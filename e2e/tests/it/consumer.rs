//! The consumer (pull API and listener API) against a real in-process standalone server.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use qmq_core::client::consumer::{
    ConsumeOptions, Consumer, Handler, HandlerError, PullConsumer, Subscription,
};
use qmq_core::client::idempotence::{MemoryStore, MemoryStoreConfig};
use qmq_core::protocol::names::{attr, dead_retry_subject};
use qmq_core::protocol::{Message, TagType};

use crate::consumer_support::{
    RawSender, Seen, TestServer, WARM_UP, bodies, eventually, message, warm_up,
};

/// A handler recording every message; fails those whose body is in `fail` (always) .
fn recorder(seen: &Seen, fail: &'static [&'static str]) -> Handler {
    let seen = seen.clone();
    Arc::new(move |m: &Message| {
        seen.lock().expect("lock").push(m.clone());
        match m.attr("body") {
            Some(b) if fail.contains(&b) => Err(HandlerError::new("told to fail")),
            _ => Ok(()),
        }
    })
}

fn subscribe(
    consumer: &Consumer,
    subject: &str,
    group: &str,
    options: ConsumeOptions,
    fail: &'static [&'static str],
) -> (Subscription, Seen) {
    let seen = Seen::default();
    let sub = consumer
        .subscribe(subject, group, options, recorder(&seen, fail))
        .expect("subscribe");
    (sub, seen)
}

async fn stop(sub: Subscription) {
    sub.stop();
    tokio::time::timeout(Duration::from_secs(15), sub.stopped())
        .await
        .expect("subscription stops");
}

/// Pulls (acking warm-ups) until a warm-up arrived.
async fn warm_up_pull(sender: &RawSender, pc: &PullConsumer) {
    for _ in 0..100 {
        sender.send_body(WARM_UP, &[]).await;
        let got = pc.pull(10, Duration::from_millis(300)).await.expect("pull");
        let mut warm = false;
        for m in got {
            warm |= m.attr("body") == Some(WARM_UP);
            m.ack();
        }
        if warm {
            return;
        }
    }
    panic!("no warm-up message pulled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pulled_messages_acked_are_not_redelivered_and_failed_ones_are() {
    let server = TestServer::start().await;
    let subject = "consumer.pull";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let pc = consumer
        .pull_consumer(subject, "g", ConsumeOptions::default())
        .expect("pull consumer");
    warm_up_pull(&sender, &pc).await;

    let sent: Vec<Message> = (0..10)
        .map(|i| message(subject, &i.to_string(), &[]))
        .collect();
    sender.send(&sent).await;
    let mut got = Vec::new();
    while got.len() < 10 {
        let batch = pc
            .pull(10 - got.len(), Duration::from_secs(5))
            .await
            .expect("pull");
        assert!(!batch.is_empty(), "messages arrive");
        got.extend(batch);
    }
    let mut ids: Vec<&str> = got.iter().map(|m| m.message_id()).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = sent.iter().map(|m| m.header.message_id.as_str()).collect();
    want.sort_unstable();
    assert_eq!(ids, want);
    assert!(got.iter().all(|m| m.subject() == subject && m.times() == 1));

    // Ack all but one, which fails: only that one comes back, through the retry subject.
    let mut failed_id = String::new();
    for (i, m) in got.into_iter().enumerate() {
        if i == 3 {
            failed_id = m.message_id().to_owned();
            m.ack_error("try again");
        } else {
            m.ack();
        }
    }
    let again = pc.pull(5, Duration::from_secs(3)).await.expect("pull");
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].message_id(), failed_id);
    assert_eq!(again[0].times(), 2);
    assert_eq!(
        again[0].subject(),
        subject,
        "retries carry the real subject"
    );
    for m in again {
        m.ack();
    }
    assert!(
        pc.pull(5, Duration::from_millis(1500))
            .await
            .expect("pull")
            .is_empty()
    );

    pc.close().await;
    assert!(pc.pull(1, Duration::from_millis(10)).await.is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pull_blocking_refuses_to_run_inside_a_runtime() {
    let server = TestServer::start().await;
    let consumer = server.consumer();
    let pc = consumer
        .pull_consumer("consumer.blocking", "g", ConsumeOptions::default())
        .expect("pull consumer");
    assert!(pc.pull_blocking(1, Duration::from_millis(10)).is_err());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_handler_retries_then_dead_letters() {
    let server = TestServer::start().await;
    let subject = "consumer.retry";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let options = ConsumeOptions {
        max_retry: Some(2),
        ..ConsumeOptions::default()
    };
    let (sub, seen) = subscribe(&consumer, subject, "g", options, &["bad"]);
    warm_up(&sender, &seen, &[]).await;

    let bad = sender.send_body("bad", &[]).await;
    sender.send_body("good", &[]).await;
    assert!(
        eventually(Duration::from_secs(10), || bodies(&seen)
            .iter()
            .filter(|b| *b == "bad")
            .count()
            >= 2)
        .await,
        "bad is redelivered after the retry delay: {:?}",
        bodies(&seen)
    );
    // Two tries (times 1 and 2), then the third would exceed max_retry 2: dead letter.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tries: Vec<u32> = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|m| m.attr("body") == Some("bad"))
        .map(|m| {
            m.attr(attr::TIMES)
                .and_then(|t| t.parse().ok())
                .unwrap_or(1)
        })
        .collect();
    assert_eq!(tries, vec![1, 2]);
    assert_eq!(bodies(&seen).iter().filter(|b| *b == "good").count(), 1);

    let dead = sender
        .pull_raw(&dead_retry_subject(subject, "g"), "dead-reader", 10)
        .await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].header.message_id, bad.header.message_id);
    assert_eq!(dead[0].attr(attr::TIMES), Some("3"));
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_gives_every_consumer_every_message() {
    let server = TestServer::start().await;
    let subject = "consumer.broadcast";
    let sender = server.sender(subject).await;
    let options = || ConsumeOptions {
        broadcast: true,
        ..ConsumeOptions::default()
    };
    let (a, b) = (server.consumer(), server.consumer());
    let (sub_a, seen_a) = subscribe(&a, subject, "bg", options(), &[]);
    let (sub_b, seen_b) = subscribe(&b, subject, "bg", options(), &[]);
    warm_up(&sender, &seen_a, &[]).await;
    warm_up(&sender, &seen_b, &[]).await;
    for i in 0..5 {
        sender.send_body(&format!("m{i}"), &[]).await;
    }
    let want: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for seen in [&seen_a, &seen_b] {
        assert!(eventually(Duration::from_secs(10), || bodies(seen).len() >= 5).await);
        let mut got = bodies(seen);
        got.sort();
        assert_eq!(got, want);
    }
    stop(sub_a).await;
    stop(sub_b).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tags_filter_with_and_or() {
    let server = TestServer::start().await;
    let subject = "consumer.tags";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let tagged = |tag_type| ConsumeOptions {
        tags: vec!["a".into(), "b".into()],
        tag_type,
        ..ConsumeOptions::default()
    };
    let (and_sub, and_seen) = subscribe(&consumer, subject, "and", tagged(TagType::And), &[]);
    let (or_sub, or_seen) = subscribe(&consumer, subject, "or", tagged(TagType::Or), &[]);
    warm_up(&sender, &and_seen, &["a", "b"]).await;
    warm_up(&sender, &or_seen, &["a", "b"]).await;
    for (body, tags) in [
        ("a", &["a"][..]),
        ("b", &["b"][..]),
        ("ab", &["a", "b"][..]),
        ("c", &["c"][..]),
        ("none", &[][..]),
        ("last", &["a", "b", "c"][..]),
    ] {
        sender.send_body(body, tags).await;
    }
    assert!(
        eventually(Duration::from_secs(10), || bodies(&and_seen).len() >= 2
            && bodies(&or_seen).len() >= 4)
        .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bodies(&and_seen), ["ab", "last"]);
    let mut or = bodies(&or_seen);
    or.sort();
    assert_eq!(or, ["a", "ab", "b", "last"]);
    stop(and_sub).await;
    stop(or_sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_once_never_redelivers() {
    let server = TestServer::start().await;
    let subject = "consumer.most.once";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let options = ConsumeOptions {
        at_most_once: true,
        ..ConsumeOptions::default()
    };
    let (sub, seen) = subscribe(&consumer, subject, "g", options, &["fails"]);
    warm_up(&sender, &seen, &[]).await;
    sender.send_body("fails", &[]).await;
    let mut retried = message(subject, "second-try", &[]);
    retried.set_attr(attr::TIMES, "2");
    sender.send(std::slice::from_ref(&retried)).await;
    sender.send_body("ok", &[]).await;
    assert!(eventually(Duration::from_secs(10), || bodies(&seen).len() >= 2).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        bodies(&seen),
        ["fails", "ok"],
        "no retry, qmq_times > 1 dropped"
    );
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotence_drops_duplicates_but_lets_retries_run() {
    let server = TestServer::start().await;
    let subject = "consumer.idempotent";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let store = Arc::new(MemoryStore::new(MemoryStoreConfig::default()).expect("store"));
    let options = ConsumeOptions {
        idempotence: Some(store),
        ..ConsumeOptions::default()
    };
    let seen = Seen::default();
    let failed_once = Arc::new(AtomicBool::new(false));
    let handler: Handler = {
        let seen = seen.clone();
        let failed_once = failed_once.clone();
        Arc::new(move |m: &Message| {
            seen.lock().expect("lock").push(m.clone());
            if m.attr("body") == Some("flaky") && !failed_once.swap(true, Ordering::SeqCst) {
                return Err(HandlerError::new("first try fails"));
            }
            Ok(())
        })
    };
    let sub = consumer
        .subscribe(subject, "g", options, handler)
        .expect("subscribe");
    warm_up(&sender, &seen, &[]).await;
    let dup = message(subject, "dup", &[]);
    sender.send(std::slice::from_ref(&dup)).await;
    sender.send(std::slice::from_ref(&dup)).await;
    sender.send_body("flaky", &[]).await;
    assert!(
        eventually(Duration::from_secs(10), || bodies(&seen)
            .iter()
            .filter(|b| *b == "flaky")
            .count()
            >= 2)
        .await,
        "{:?}",
        bodies(&seen)
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for b in bodies(&seen) {
        *counts.entry(b).or_default() += 1;
    }
    assert_eq!(counts.get("dup"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("flaky"), Some(&2), "{counts:?}");
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_for_another_group_are_dropped_and_acked() {
    let server = TestServer::start().await;
    let subject = "consumer.other.group";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let (sub, seen) = subscribe(&consumer, subject, "mine", ConsumeOptions::default(), &[]);
    warm_up(&sender, &seen, &[]).await;
    let mut theirs = message(subject, "theirs", &[]);
    theirs.set_attr(attr::CONSUMER_GROUP_NAME, "theirs");
    sender.send(std::slice::from_ref(&theirs)).await;
    let mut mine = message(subject, "mine", &[]);
    mine.set_attr(attr::CONSUMER_GROUP_NAME, "mine");
    sender.send(std::slice::from_ref(&mine)).await;
    assert!(eventually(Duration::from_secs(10), || !bodies(&seen).is_empty()).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bodies(&seen), ["mine"]);
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_dropped_without_ack_is_retried() {
    let server = TestServer::start().await;
    let subject = "consumer.dropped";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let pc = consumer
        .pull_consumer(subject, "g", ConsumeOptions::default())
        .expect("pull consumer");
    warm_up_pull(&sender, &pc).await;
    let sent = sender.send_body("forgotten", &[]).await;
    let got = pc.pull(1, Duration::from_secs(5)).await.expect("pull");
    assert_eq!(got.len(), 1);
    drop(got);
    let again = pc.pull(1, Duration::from_secs(5)).await.expect("pull");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id(), sent.header.message_id);
    assert_eq!(again[0].times(), 2);
    for m in again {
        m.ack();
    }
    pc.close().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_handler_counts_as_a_failure() {
    let server = TestServer::start().await;
    let subject = "consumer.panics";
    let sender = server.sender(subject).await;
    let consumer = server.consumer();
    let seen = Seen::default();
    let handler: Handler = {
        let seen = seen.clone();
        Arc::new(move |m: &Message| {
            seen.lock().expect("lock").push(m.clone());
            if m.attr("body") == Some("boom") && m.attr(attr::TIMES).is_none() {
                panic!("handler bug");
            }
            Ok(())
        })
    };
    let sub = consumer
        .subscribe(subject, "g", ConsumeOptions::default(), handler)
        .expect("subscribe");
    warm_up(&sender, &seen, &[]).await;
    sender.send_body("boom", &[]).await;
    assert!(
        eventually(Duration::from_secs(10), || bodies(&seen).len() >= 2).await,
        "redelivered after the panic: {:?}",
        bodies(&seen)
    );
    stop(sub).await;
    server.stop().await;
}
