//! Message-log append throughput: batches of 30 records (the Java producer's batch size) with
//! 100-byte payloads, periodic flush (500 ms) by the store's background thread.
//!
//! Besides criterion's report, prints a plain `msgs/s` figure from a fixed 2,000,000-message run.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qmq_server::broker::store::{AppendMessage, FlushPolicy, Store, StoreConfig};

const BATCH: usize = 30;
const PAYLOAD: usize = 100;

fn config() -> StoreConfig {
    StoreConfig {
        message_segment_size: 256 << 20,
        flush: FlushPolicy::Periodic {
            interval: Duration::from_millis(500),
        },
        ..StoreConfig::default()
    }
}

fn payloads() -> (Vec<Vec<u8>>, Vec<i64>) {
    let payloads: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            let mut p = format!("payload-{i}-").into_bytes();
            p.resize(PAYLOAD, b'x');
            p
        })
        .collect();
    let crcs = payloads
        .iter()
        .map(|p| i64::from(crc32fast::hash(p)))
        .collect();
    (payloads, crcs)
}

fn batch<'a>(payloads: &'a [Vec<u8>], crcs: &[i64]) -> Vec<AppendMessage<'a>> {
    payloads
        .iter()
        .zip(crcs)
        .map(|(p, &crc)| AppendMessage {
            subject: "bench.subject",
            crc,
            payload: p,
        })
        .collect()
}

fn bench_append(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(config(), dir.path()).expect("open store"));
    let _background = store.start_background().expect("background");
    let (payloads, crcs) = payloads();
    let batch = batch(&payloads, &crcs);

    let mut group = c.benchmark_group("log_append");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("batch30_payload100_periodic_flush", |b| {
        b.iter(|| black_box(store.append(black_box(&batch)).expect("append")));
    });
    group.finish();
}

fn report_msgs_per_sec(_c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(config(), dir.path()).expect("open store"));
    let _background = store.start_background().expect("background");
    let (payloads, crcs) = payloads();
    let batch = batch(&payloads, &crcs);
    let total = 2_000_000 / BATCH;
    let start = Instant::now();
    for _ in 0..total {
        black_box(store.append(&batch).expect("append"));
    }
    let elapsed = start.elapsed();
    let msgs = (total * BATCH) as f64;
    println!(
        "log_append: {} msgs of {PAYLOAD} B in {:.3} s = {:.0} msgs/s",
        total * BATCH,
        elapsed.as_secs_f64(),
        msgs / elapsed.as_secs_f64()
    );
}

criterion_group!(benches, bench_append, report_msgs_per_sec);
criterion_main!(benches);
