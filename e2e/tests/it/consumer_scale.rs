//! Scale-out on a backlog: one consumer starts, 100 000 messages pile up, four more consumers
//! of the same group join; every message is handled exactly once when nothing fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use qmq_core::client::consumer::{ConsumeOptions, Handler, Subscription};
use qmq_core::protocol::Message;

use crate::consumer_support::{Seen, TestServer, WARM_UP, eventually, message, warm_up};

const TOTAL: usize = 100_000;

fn slow_recorder(seen: &Seen, count: &Arc<AtomicUsize>) -> Handler {
    let seen = seen.clone();
    let count = count.clone();
    Arc::new(move |m: &Message| {
        if m.attr("body") != Some(WARM_UP) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        seen.lock().expect("lock").push(m.clone());
        // Slow enough that one consumer cannot keep up with the backlog.
        std::thread::sleep(Duration::from_micros(500));
        Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joining_consumers_share_a_backlog_and_deliver_each_message_once() {
    let server = TestServer::start().await;
    let subject = "consumer.scale";
    let group = "scale";
    let sender = server.sender(subject).await;
    let options = || ConsumeOptions {
        concurrency: 4,
        ..ConsumeOptions::default()
    };

    let first = server.consumer();
    let seen0 = Seen::default();
    let count0 = Arc::new(AtomicUsize::new(0));
    let sub0 = first
        .subscribe(subject, group, options(), slow_recorder(&seen0, &count0))
        .expect("subscribe");
    warm_up(&sender, &seen0, &[]).await;

    for chunk in 0..TOTAL / 500 {
        let batch: Vec<Message> = (chunk * 500..(chunk + 1) * 500)
            .map(|i| message(subject, &i.to_string(), &[]))
            .collect();
        sender.send(&batch).await;
    }
    let before_join = count0.load(Ordering::Relaxed);
    assert!(before_join < TOTAL, "a backlog exists when the others join");

    let mut subs: Vec<Subscription> = vec![sub0];
    let mut seens = vec![seen0];
    let mut counts = vec![count0];
    let mut consumers = vec![first];
    for _ in 0..4 {
        let c = server.consumer();
        let seen = Seen::default();
        let count = Arc::new(AtomicUsize::new(0));
        subs.push(
            c.subscribe(subject, group, options(), slow_recorder(&seen, &count))
                .expect("subscribe"),
        );
        seens.push(seen);
        counts.push(count);
        consumers.push(c);
    }
    let total = || {
        counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum::<usize>()
    };
    assert!(
        eventually(Duration::from_secs(300), || total() >= TOTAL).await,
        "only {} of {TOTAL} handled",
        total()
    );
    // Anything extra would be a duplicate.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let per_consumer: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    eprintln!(
        "handled per consumer {per_consumer:?}; the first had {before_join} when the others joined"
    );
    let mut seen_bodies: HashMap<String, usize> = HashMap::new();
    for seen in &seens {
        for m in seen.lock().expect("lock").iter() {
            let body = m.attr("body").unwrap_or_default();
            if body != WARM_UP {
                *seen_bodies.entry(body.to_owned()).or_default() += 1;
            }
        }
    }
    let dups: Vec<_> = seen_bodies
        .iter()
        .filter(|(_, n)| **n > 1)
        .take(5)
        .collect();
    assert!(
        dups.is_empty(),
        "duplicates: {dups:?}; per consumer {per_consumer:?}"
    );
    assert_eq!(seen_bodies.len(), TOTAL, "per consumer {per_consumer:?}");
    assert!(
        per_consumer[1..].iter().sum::<usize>() > 0,
        "the joiners took part of the backlog: {per_consumer:?} (first had {before_join} at join)"
    );
    for sub in subs {
        sub.stop();
        let _ = tokio::time::timeout(Duration::from_secs(15), sub.stopped()).await;
    }
    server.stop().await;
}
