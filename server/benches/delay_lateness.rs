//! Delay role lateness: 100 000 messages due over 60 s, real clock, a dispatcher that only
//! records when each message arrived. Prints p50/p99/max lateness (goal: p99 ≤ 20 ms).
//!
//! Baseline from the same run: a task on the same runtime that sleeps until a deadline every
//! 7 ms and records how late it woke. On a shared, loaded machine this timer jitter bounds
//! what any scheduler can achieve; compare the two rather than reading absolute numbers.
//!
//! Run: `cargo bench -p qmq-server --bench delay_lateness` (add `-- --messages N --span-ms M`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use qmq_server::delay::store::FlushPolicy;
use qmq_server::delay::{
    DelayConfig, DelayMessage, DelayScheduler, DispatchError, Dispatcher, SubjectBatch, SystemClock,
};
use tokio_util::sync::CancellationToken;

struct LatenessRecorder {
    lateness_us: Mutex<Vec<i64>>,
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Dispatcher for LatenessRecorder {
    async fn dispatch(&self, batch: &SubjectBatch) -> Result<Vec<bool>, DispatchError> {
        let now = now_us();
        let mut l = self.lateness_us.lock().expect("lock");
        l.extend(
            batch
                .messages
                .iter()
                .map(|m| now - m.schedule_time_ms * 1000),
        );
        Ok(vec![true; batch.messages.len()])
    }
}

fn arg(name: &str, default: i64) -> i64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n = arg("--messages", 100_000) as usize;
    let span_ms = arg("--span-ms", 60_000);
    let lead_ms = 3_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let rec = Arc::new(LatenessRecorder {
        lateness_us: Mutex::new(Vec::with_capacity(n)),
    });
    let config = DelayConfig {
        flush: FlushPolicy::Periodic {
            interval_ms: arg("--flush-ms", 100) as u64,
        },
        ..DelayConfig::default()
    };
    let sched = Arc::new(
        DelayScheduler::open(dir.path(), config, Arc::new(SystemClock), Arc::clone(&rec))
            .expect("open"),
    );
    let token = CancellationToken::new();
    let runner = {
        let s = Arc::clone(&sched);
        let t = token.clone();
        tokio::spawn(async move { s.run(t).await })
    };

    let baseline = {
        let t = token.clone();
        tokio::spawn(async move {
            let mut late = Vec::new();
            let mut deadline = tokio::time::Instant::now();
            while !t.is_cancelled() {
                deadline += Duration::from_millis(7);
                tokio::time::sleep_until(deadline).await;
                late.push(deadline.elapsed().as_micros() as i64);
            }
            late
        })
    };
    let start_ms = now_us() / 1000 + lead_ms;
    let record = Bytes::from(vec![0x5a; 200]);
    let t_sched = Instant::now();
    let mut batch = Vec::with_capacity(30);
    // Times in a scrambled order so the wheel sees arrivals out of delivery order.
    for i in 0..n as i64 {
        let k = (i * 7_919) % n as i64;
        batch.push(DelayMessage {
            record: record.clone(),
            subject: format!("bench.subject.{}", i % 8),
            message_id: format!("m{i}"),
            schedule_time_ms: start_ms + k * span_ms / n as i64,
        });
        if batch.len() == 30 {
            let s = Arc::clone(&sched);
            let b = std::mem::take(&mut batch);
            tokio::task::spawn_blocking(move || s.schedule(&b))
                .await
                .expect("join")
                .expect("schedule");
        }
    }
    if !batch.is_empty() {
        sched.schedule(&batch).expect("schedule");
    }
    let sched_secs = t_sched.elapsed().as_secs_f64();

    let deadline = Instant::now() + Duration::from_millis((lead_ms + span_ms + 10_000) as u64);
    while rec.lateness_us.lock().expect("lock").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    token.cancel();
    runner.await.expect("runner");
    let mut base = baseline.await.expect("baseline");
    base.sort_unstable();

    let mut l = rec.lateness_us.lock().expect("lock").clone();
    l.sort_unstable();
    let ms = |us: i64| us as f64 / 1000.0;
    println!(
        "{{\"bench\":\"delay_lateness\",\"messages\":{n},\"delivered\":{},\"span_ms\":{span_ms},\
         \"schedule_secs\":{sched_secs:.2},\"lateness_ms\":{{\"min\":{:.2},\"p50\":{:.2},\"p99\":{:.2},\"max\":{:.2}}},\
         \"baseline_timer_late_ms\":{{\"p50\":{:.2},\"p99\":{:.2},\"max\":{:.2}}}}}",
        l.len(),
        ms(l.first().copied().unwrap_or(0)),
        ms(percentile(&l, 0.50)),
        ms(percentile(&l, 0.99)),
        ms(l.last().copied().unwrap_or(0)),
        ms(percentile(&base, 0.50)),
        ms(percentile(&base, 0.99)),
        ms(base.last().copied().unwrap_or(0)),
    );
}
