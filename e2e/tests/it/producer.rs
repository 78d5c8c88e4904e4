//! The producer against a real in-process standalone server: delivery, tags, bursts, the
//! bounded queue, and a broker restart with messages queued.

use std::collections::HashSet;
use std::time::Duration;

use qmq_core::client::{Client, ClientError, SendFuture, SendReceipt};
use qmq_core::protocol::names::attr;
use qmq_core::protocol::{PullFilter, TagType};

use crate::producer_support::{Puller, client, client_config, start_server};

const WAIT: Duration = Duration::from_secs(30);

async fn all(futures: Vec<SendFuture>) -> Vec<Result<SendReceipt, ClientError>> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}

/// Compares id sets, reporting sizes and a few differences instead of both sets.
fn assert_same(got: &HashSet<String>, sent: &HashSet<String>, pulled: usize) {
    let missing: Vec<_> = sent.difference(got).take(5).collect();
    let unexpected: Vec<_> = got.difference(sent).take(5).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty() && pulled == sent.len(),
        "sent {}, pulled {pulled} ({} distinct); missing e.g. {missing:?}; unexpected e.g. {unexpected:?}",
        sent.len(),
        got.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_messages_are_stored_with_their_properties() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ports) = start_server(dir.path(), None).await;
    let puller = Puller::new(ports.broker, "g1");
    puller.subscribe("orders").await;
    let client = client(&server);
    let p = client.producer();
    let mut ids = Vec::new();
    let mut futures = Vec::new();
    for i in 0..100 {
        let mut m = p.generate_message("orders").unwrap();
        m.set_property("n", i.to_string()).unwrap();
        m.set_large_string("doc", &"x".repeat(20_000)).unwrap();
        ids.push(m.message_id().to_owned());
        futures.push(p.send(m));
    }
    for r in all(futures).await {
        let r = r.unwrap();
        assert_eq!(r.attempts, 1);
        assert!(!r.broker_group.is_empty());
    }
    let mut got = puller.pull_n("orders", 100, Vec::new(), WAIT).await;
    // Pipelined batches may be stored out of order (as with Java's several sender threads).
    got.sort_by_key(|m| m.attr("n").and_then(|n| n.parse::<usize>().ok()));
    let got_ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
    assert_eq!(got_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.attr("n"), Some(i.to_string().as_str()));
        assert_eq!(m.attr(attr::APP_CODE), Some("e2e-producer"));
        assert!(m.attr(attr::CREATE_TIME).is_some());
        let doc = qmq_core::client::producer::message::get_large_string(&m.attrs, "doc");
        assert_eq!(doc.map(|d| d.len()), Some(20_000));
    }
    client.close_async(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagged_messages_match_tag_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ports) = start_server(dir.path(), None).await;
    let puller = Puller::new(ports.broker, "tagged");
    puller.subscribe("tags").await;
    let client = client(&server);
    let p = client.producer();
    let mut red = HashSet::new();
    let mut futures = Vec::new();
    for i in 0..20 {
        let mut m = p.generate_message("tags").unwrap();
        let tag = if i % 2 == 0 { "red" } else { "blue" };
        m.add_tag(tag).unwrap().add_tag("all").unwrap();
        if i % 2 == 0 {
            red.insert(m.message_id().to_owned());
        }
        futures.push(p.send(m));
    }
    assert!(all(futures).await.iter().all(Result::is_ok));
    let filter = vec![PullFilter::Tag {
        tag_type: TagType::Or,
        tags: vec!["red".into()],
    }];
    let got = puller.pull_n("tags", 10, filter, WAIT).await;
    let got: HashSet<String> = got.into_iter().map(|m| m.header.message_id).collect();
    assert_eq!(got, red);
    client.close_async(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_10000_messages_is_delivered_completely() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ports) = start_server(dir.path(), None).await;
    let puller = Puller::new(ports.broker, "burst");
    puller.subscribe("burst").await;
    let client = client(&server);
    let p = client.producer();
    let payload = "p".repeat(100);
    let futures: Vec<SendFuture> = (0..10_000)
        .map(|_| {
            let mut m = p.generate_message("burst").unwrap();
            m.set_property("body", payload.as_str()).unwrap();
            p.send(m)
        })
        .collect();
    let results = all(futures).await;
    let ids: HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("every message of the burst is stored").message_id)
        .collect();
    assert_eq!(ids.len(), 10_000);
    let got = puller.pull_n("burst", 10_000, Vec::new(), WAIT).await;
    let pulled = got.len();
    let got: HashSet<String> = got.into_iter().map(|m| m.header.message_id).collect();
    assert_same(&got, &ids, pulled);
    client.close_async(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

/// Sends one message so the route is cached, stops the server, fills the queue, restarts the
/// server on the same data and ports, and expects every queued message delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_survive_a_broker_restart_and_a_full_queue_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (server, ports) = start_server(dir.path(), None).await;
    let puller = Puller::new(ports.broker, "restart");
    puller.subscribe("restart").await;
    let mut config = client_config(&server);
    config.producer.queue_capacity = 500;
    let client = Client::new(config).unwrap();
    let p = client.producer();
    let first = p.generate_message("restart").unwrap();
    let mut ids = vec![first.message_id().to_owned()];
    p.send(first).await.unwrap();

    server.shutdown().await;
    let mut futures = Vec::new();
    for _ in 0..500 {
        let m = p.generate_message("restart").unwrap();
        ids.push(m.message_id().to_owned());
        futures.push(p.send(m));
    }
    let overflow = p.send(p.generate_message("restart").unwrap()).await;
    assert!(
        matches!(overflow, Err(ClientError::QueueFull { capacity: 500 })),
        "{overflow:?}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        p.pending(),
        500,
        "nothing is dropped while the broker is down"
    );

    let (server, _) = start_server(dir.path(), Some(ports)).await;
    for r in all(futures).await {
        r.expect("queued message delivered after the restart");
    }
    p.flush(Duration::from_secs(5)).await.unwrap();
    let got = puller.pull_n("restart", ids.len(), Vec::new(), WAIT).await;
    let pulled = got.len();
    let got: HashSet<String> = got.into_iter().map(|m| m.header.message_id).collect();
    assert_same(&got, &ids.into_iter().collect(), pulled);
    client.close_async(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}

#[test]
fn blocking_api_from_a_host_thread() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _) = rt.block_on(start_server(dir.path(), None));
    let client = client(&server);
    let p = client.producer();
    let receipt = p
        .send_blocking(p.generate_message("blocking").unwrap())
        .unwrap();
    assert_eq!(receipt.attempts, 1);
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..10 {
        let tx = tx.clone();
        p.send_with_callback(
            p.generate_message("blocking").unwrap(),
            Box::new(move |r| {
                let _ = tx.send(r.is_ok());
            }),
        )
        .unwrap();
    }
    client.close(Duration::from_secs(5)).unwrap();
    let oks: Vec<bool> = rx.try_iter().collect();
    assert_eq!(oks, vec![true; 10]);
    rt.block_on(server.shutdown());
}
