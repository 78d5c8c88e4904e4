//! Producer throughput of the Rust client (the baseline of ProducerBench.cs; same logic as
//! ffi/examples/bench_rust_producer.rs): 100-byte messages for N seconds against a running
//! server, back-pressure sends; prints `rust_producer: ... msg/s`. Built by run-bench.sh as a
//! throwaway crate depending on ../../core.
//!
//! Usage: `rust_producer_bench META_URL SECONDS`.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use qmq_core::client::{Client, ClientConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: bench_rust_producer META_URL SECONDS");
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let mut config = ClientConfig::new("bench");
    config.meta.url = url;
    let client = Client::new(config).expect("client");
    let producer = client.producer();
    let body = "b".repeat(100);
    producer
        .send(producer.generate_message("bench.rust").expect("message"))
        .await
        .expect("warm-up send");

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    // One task awaits the send futures in order, like a host completing its promises.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let waiter = {
        let (ok, failed) = (ok.clone(), failed.clone());
        tokio::spawn(async move {
            while let Some(f) = rx.recv().await {
                let result: qmq_core::client::SendResult = f.await;
                match result {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    let start = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let mut sent = 0u64;
    while start.elapsed() < limit {
        let mut m = producer.generate_message("bench.rust").expect("message");
        m.set_property("body", body.as_str()).expect("property");
        let f = producer.send_with_backpressure(m).await.expect("accepted");
        let _ = tx.send(f);
        sent += 1;
    }
    drop(tx);
    waiter.await.expect("waiter");
    let elapsed = start.elapsed().as_secs_f64();
    let ok = ok.load(Ordering::Relaxed);
    println!(
        "rust_producer: {ok} ok, {} failed of {sent} in {elapsed:.2} s = {:.0} msg/s",
        failed.load(Ordering::Relaxed),
        ok as f64 / elapsed
    );
    client.close_async(Duration::from_secs(10)).await.expect("close");
}
