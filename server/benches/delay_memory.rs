//! Delay role memory: resident set growth with 1 000 000 messages pending in future buckets
//! (beyond the look-ahead window, so they stay on disk). Goal: ≤ 64 MiB above idle.
//! Also reports the same million loaded into the timing wheel (due within the window).
//!
//! Run: `cargo bench -p qmq-server --bench delay_memory` (add `-- --messages N`). Each scenario
//! runs in a child process so one does not inflate the other's baseline.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use qmq_server::delay::{
    DelayConfig, DelayMessage, DelayScheduler, DispatchError, Dispatcher, SubjectBatch, SystemClock,
};

struct Refuse;

impl Dispatcher for Refuse {
    async fn dispatch(&self, batch: &SubjectBatch) -> Result<Vec<bool>, DispatchError> {
        Err(DispatchError::NoRoute {
            subject: batch.subject.clone(),
        })
    }
}

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(-1)
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

const HOUR: i64 = 3_600_000;

async fn scenario(kind: &str, n: i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sched = Arc::new(
        DelayScheduler::open(
            dir.path(),
            DelayConfig::default(),
            Arc::new(SystemClock),
            Arc::new(Refuse),
        )
        .expect("open"),
    );
    sched.tick().await.expect("tick");
    let idle = rss_kib();
    let now = qmq_server::delay::Clock::now_ms(&SystemClock);
    // future: 1 day .. 31 days ahead (720 buckets); loaded: 1 .. 21 minutes ahead.
    let (from, span) = match kind {
        "future" => (now + 24 * HOUR, 30 * 24 * HOUR),
        _ => (now + 60_000, 20 * 60_000),
    };
    let record = Bytes::from(vec![0x5a; 100]);
    let t = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..n {
        let k = (i * 7_919) % n;
        batch.push(DelayMessage {
            record: record.clone(),
            subject: format!("mem.subject.{}", i % 16),
            message_id: format!("m{i}"),
            schedule_time_ms: from + k * span / n,
        });
        if batch.len() == 1000 {
            sched.schedule(&batch).expect("schedule");
            batch.clear();
        }
    }
    if !batch.is_empty() {
        sched.schedule(&batch).expect("schedule");
    }
    drop(batch);
    let secs = t.elapsed().as_secs_f64();
    sched.tick().await.expect("tick");
    sched.shutdown().expect("sync");
    let loaded = rss_kib();
    println!(
        "{{\"bench\":\"delay_memory\",\"scenario\":\"{kind}\",\"messages\":{n},\"schedule_secs\":{secs:.1},\
         \"in_memory\":{},\"wheel_mib\":{:.1},\"idle_rss_mib\":{:.1},\"rss_mib\":{:.1},\"delta_mib\":{:.1}}}",
        sched.pending_in_memory(),
        sched.wheel_memory_bytes() as f64 / 1048576.0,
        idle as f64 / 1024.0,
        loaded as f64 / 1024.0,
        (loaded - idle) as f64 / 1024.0,
    );
}

fn main() {
    let n: i64 = arg("--messages")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(kind) = arg("--scenario") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(scenario(&kind, n));
        return;
    }
    let exe = std::env::current_exe().expect("current exe");
    for kind in ["future", "loaded"] {
        let status = Command::new(&exe)
            .args(["--scenario", kind, "--messages", &n.to_string()])
            .status()
            .expect("spawn scenario");
        assert!(status.success(), "scenario {kind} failed");
    }
}
