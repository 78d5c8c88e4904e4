//! Release-mode throughput of one producer against the in-process server (ignored by default):
//! `cargo test --release -p qmq-e2e --test it producer_throughput -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use crate::producer_support::{client, start_server};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn one_producer_throughput_100_byte_messages() {
    let total: usize = std::env::var("QMQ_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = start_server(dir.path(), None).await;
    let client = client(&server);
    let p = client.producer();
    // Warm up the route and the connection.
    p.send(p.generate_message("bench").unwrap()).await.unwrap();
    let body = "b".repeat(100);
    let start = Instant::now();
    let mut futures = Vec::with_capacity(total);
    for _ in 0..total {
        let mut m = p.generate_message("bench").unwrap();
        m.set_property("body", body.as_str()).unwrap();
        futures.push(p.send_with_backpressure(m).await.unwrap());
    }
    let queued = start.elapsed();
    let mut failed = 0usize;
    for f in futures {
        if f.await.is_err() {
            failed += 1;
        }
    }
    let elapsed = start.elapsed();
    let rate = total as f64 / elapsed.as_secs_f64();
    println!(
        "producer throughput: {total} msgs of 100 B in {elapsed:?} (queued in {queued:?}) = {rate:.0} msgs/s, {failed} failed"
    );
    assert_eq!(failed, 0);
    client.close_async(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
}
