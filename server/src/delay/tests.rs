//! Behaviour of the delay scheduler over a real store, with a hand-moved clock and a dispatcher
//! that records what a broker would have received.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use super::*;

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;
/// An hour boundary plus ten minutes.
const T0: i64 = 1_700_002_800_000 + 10 * MIN;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Delivered {
    subject: String,
    message_id: String,
    schedule_time_ms: i64,
    at_ms: i64,
    record: Bytes,
}

/// Stands in for the brokers: records every message it is handed.
struct Recording {
    clock: ManualClock,
    delivered: Mutex<Vec<Delivered>>,
    fail_once: Mutex<HashSet<String>>,
    hang: AtomicBool,
}

impl Recording {
    fn new(clock: &ManualClock) -> Arc<Self> {
        Arc::new(Self {
            clock: clock.clone(),
            delivered: Mutex::new(Vec::new()),
            fail_once: Mutex::new(HashSet::new()),
            hang: AtomicBool::new(false),
        })
    }

    fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().expect("lock").clone()
    }

    fn counts(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for d in self.delivered() {
            *out.entry(d.message_id).or_insert(0) += 1;
        }
        out
    }
}

impl Dispatcher for Recording {
    async fn dispatch(&self, batch: &SubjectBatch) -> Result<Vec<bool>, DispatchError> {
        let ok = {
            let mut fail = self.fail_once.lock().expect("lock");
            let mut delivered = self.delivered.lock().expect("lock");
            batch
                .messages
                .iter()
                .map(|m| {
                    if fail.remove(&m.message_id) {
                        return false;
                    }
                    delivered.push(Delivered {
                        subject: batch.subject.clone(),
                        message_id: m.message_id.clone(),
                        schedule_time_ms: m.schedule_time_ms,
                        at_ms: self.clock.now_ms(),
                        record: m.record.clone(),
                    });
                    true
                })
                .collect()
        };
        if self.hang.load(Ordering::SeqCst) {
            // The broker stored them, but the answer never arrives.
            std::future::pending::<()>().await;
        }
        Ok(ok)
    }
}

fn config() -> DelayConfig {
    DelayConfig {
        look_ahead_ms: 30 * MIN,
        ..DelayConfig::default()
    }
}

fn open(dir: &Path, clock: &ManualClock, rec: &Arc<Recording>) -> DelayScheduler<Recording> {
    open_with(dir, clock, rec, config())
}

fn open_with(
    dir: &Path,
    clock: &ManualClock,
    rec: &Arc<Recording>,
    config: DelayConfig,
) -> DelayScheduler<Recording> {
    DelayScheduler::open(dir, config, Arc::new(clock.clone()), Arc::clone(rec)).expect("open")
}

fn msg(id: &str, t: i64) -> DelayMessage {
    DelayMessage {
        record: Bytes::from(format!("\0\0\0\0crc-record-of-{id}")),
        subject: "order.paid".into(),
        message_id: id.into(),
        schedule_time_ms: t,
    }
}

async fn drain(s: &DelayScheduler<Recording>) -> usize {
    let mut total = 0;
    for _ in 0..1000 {
        let r = s.tick().await.expect("tick");
        total += r.dispatched;
        if r.dispatched == 0 && r.failed == 0 {
            break;
        }
    }
    total
}

fn schedule_all(s: &DelayScheduler<Recording>, msgs: &[DelayMessage]) {
    for chunk in msgs.chunks(7) {
        for r in s.schedule(chunk).expect("schedule") {
            r.expect("accepted");
        }
    }
}

#[tokio::test]
async fn due_messages_are_delivered_in_delivery_time_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let s = open(dir.path(), &clock, &rec);
    s.tick().await.expect("first tick loads the window");
    // A fixed permutation of 200 times in [T0, T0 + 2 s), plus two already past.
    let mut msgs: Vec<DelayMessage> = (0..200i64)
        .map(|i| msg(&format!("m{i}"), T0 + (i * 7919) % 2000))
        .collect();
    msgs.push(msg("past-1", T0 - 5 * MIN));
    msgs.push(msg("past-2", T0 - HOUR));
    schedule_all(&s, &msgs);

    while clock.now_ms() <= T0 + 2000 {
        drain(&s).await;
        clock.advance(10);
    }
    let got = rec.delivered();
    assert_eq!(got.len(), 202);
    let times: Vec<i64> = got.iter().map(|d| d.schedule_time_ms).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable();
    assert_eq!(times, sorted, "not in delivery-time order");
    for d in &got {
        let due = d.schedule_time_ms.max(T0);
        assert!(d.at_ms >= due, "{} delivered early", d.message_id);
        assert!(d.at_ms - due < 10, "{} delivered late", d.message_id);
    }
    let m0 = got.iter().find(|d| d.message_id == "m0").expect("m0");
    assert_eq!(m0.record, msgs[0].record, "record changed");
}

#[tokio::test]
async fn message_due_in_three_days_waits_on_disk_in_its_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let s = open(dir.path(), &clock, &rec);
    let due = T0 + 3 * 24 * HOUR + 7 * MIN + 5_000;
    let bucket_start = due - due.rem_euclid(HOUR);
    schedule_all(&s, &[msg("later", due)]);
    assert_eq!(s.bucket_starts(), vec![bucket_start]);
    let file = dir
        .path()
        .join("schedule_log")
        .join(format!("{bucket_start:020}.sched"));
    assert!(file.exists(), "no schedule log {}", file.display());

    s.tick().await.expect("tick");
    assert_eq!(s.pending_in_memory(), 0, "a bucket days away was loaded");
    clock.set(bucket_start - 31 * MIN);
    s.tick().await.expect("tick");
    assert_eq!(s.pending_in_memory(), 0);
    clock.set(bucket_start - 29 * MIN);
    s.tick().await.expect("tick");
    assert_eq!(
        s.pending_in_memory(),
        1,
        "bucket not loaded within look-ahead"
    );
    clock.set(due - 1);
    assert_eq!(drain(&s).await, 0);
    clock.set(due);
    assert_eq!(drain(&s).await, 1);
    let got = rec.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].at_ms, due);
}

#[tokio::test]
async fn restart_mid_bucket_loses_nothing_and_resends_nothing_dispatched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let msgs: Vec<DelayMessage> = (0..100i64)
        .map(|i| msg(&format!("r{i}"), T0 + i * 30_000))
        .collect();
    {
        let s = open(dir.path(), &clock, &rec);
        schedule_all(&s, &msgs);
        clock.set(T0 + 25 * MIN);
        assert_eq!(drain(&s).await, 51);
        s.sync().await.expect("sync");
    }
    {
        // Second restart without a clean shutdown.
        let s = open(dir.path(), &clock, &rec);
        clock.set(T0 + 40 * MIN);
        assert_eq!(drain(&s).await, 30);
    }
    let s = open(dir.path(), &clock, &rec);
    clock.set(T0 + 60 * MIN);
    assert_eq!(drain(&s).await, 19);
    let counts = rec.counts();
    assert_eq!(counts.len(), 100);
    assert!(counts.values().all(|&n| n == 1), "a message was re-sent");
}

#[tokio::test]
async fn crash_during_dispatch_duplicates_only_in_flight_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let msgs: Vec<DelayMessage> = (0..60i64)
        .map(|i| msg(&format!("c{i}"), T0 + i * 1_000))
        .collect();
    let in_flight: HashSet<String>;
    {
        let s = open(dir.path(), &clock, &rec);
        schedule_all(&s, &msgs);
        clock.set(T0 + 19_000);
        assert_eq!(drain(&s).await, 20);
        rec.hang.store(true, Ordering::SeqCst);
        clock.set(T0 + 29_000);
        let before = rec.delivered().len();
        let r = tokio::time::timeout(Duration::from_millis(200), s.tick()).await;
        assert!(r.is_err(), "dispatch should hang");
        in_flight = rec.delivered()[before..]
            .iter()
            .map(|d| d.message_id.clone())
            .collect();
        assert_eq!(in_flight.len(), 10);
        // Crash: no shutdown, and a producer's record torn half-way into the message log.
    }
    let wal_dir = dir.path().join("message_log");
    let mut segs: Vec<_> = std::fs::read_dir(&wal_dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    segs.sort();
    let newest = segs.last().expect("a segment");
    let mut bytes = std::fs::read(newest).expect("read");
    let clean_len = bytes.len();
    bytes.extend_from_slice(&[0x51, 0x44, 0x57, 0x31, 1, 0, 0, 0, 200, 0, 0]);
    std::fs::write(newest, &bytes).expect("tear");

    rec.hang.store(false, Ordering::SeqCst);
    let s = open(dir.path(), &clock, &rec);
    assert_eq!(
        std::fs::metadata(newest).expect("meta").len() as usize,
        clean_len
    );
    clock.set(T0 + 60_000);
    assert_eq!(drain(&s).await, 40);
    let counts = rec.counts();
    assert_eq!(counts.len(), 60, "a message was lost");
    let dup: HashSet<String> = counts
        .iter()
        .filter(|&(_, &n)| n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(dup, in_flight);
    assert!(counts.values().all(|&n| n <= 2));
}

#[tokio::test]
async fn bad_schedule_times_are_rejected_and_past_times_delivered_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let s = open(dir.path(), &clock, &rec);
    let max = config().max_delay_ms;
    let results = s
        .schedule(&[
            msg("neg", -1),
            msg("overflow", i64::MAX),
            msg("too-far", T0 + max + 1),
            msg("edge", T0 + max),
            msg("past", T0 - 5_000),
        ])
        .expect("schedule");
    assert!(matches!(results[0], Err(ScheduleError::Negative { .. })));
    assert!(matches!(results[1], Err(ScheduleError::Overflow { .. })));
    assert!(matches!(
        results[2],
        Err(ScheduleError::BeyondMaxDelay { .. })
    ));
    assert!(results[3].is_ok() && results[4].is_ok());
    let text = results[2].clone().expect_err("err").to_string();
    assert!(text.contains("beyond the maximum delay"), "{text}");
    assert_eq!(drain(&s).await, 1);
    assert_eq!(rec.delivered()[0].message_id, "past");
    assert_eq!(rec.delivered()[0].at_ms, T0);
}

#[tokio::test]
async fn failed_dispatch_is_retried_with_backoff_and_recorded_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    rec.fail_once.lock().expect("lock").insert("flaky".into());
    {
        let s = open(dir.path(), &clock, &rec);
        schedule_all(&s, &[msg("flaky", T0), msg("fine", T0)]);
        let r = s.tick().await.expect("tick");
        assert_eq!((r.dispatched, r.failed), (1, 1));
        assert_eq!(r.next_due_ms, Some(T0 + 100));
        assert_eq!(drain(&s).await, 0, "retried before its backoff");
        clock.advance(100);
        assert_eq!(drain(&s).await, 1);
    }
    let s = open(dir.path(), &clock, &rec);
    clock.advance(HOUR);
    assert_eq!(drain(&s).await, 0, "re-sent after restart");
    assert_eq!(rec.counts().len(), 2);
}

#[tokio::test]
async fn expired_buckets_are_deleted_after_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let cfg = DelayConfig {
        retention_ms: 10 * MIN,
        ..config()
    };
    let s = open_with(dir.path(), &clock, &rec, cfg);
    schedule_all(&s, &[msg("a", T0 + MIN), msg("b", T0 + 2 * HOUR)]);
    assert_eq!(s.bucket_starts().len(), 2);
    let bucket_end = T0 - T0.rem_euclid(HOUR) + HOUR;
    clock.set(T0 + MIN);
    assert_eq!(drain(&s).await, 1);
    clock.set(bucket_end + 10 * MIN - 1);
    s.tick().await.expect("tick");
    assert_eq!(
        s.bucket_starts().len(),
        2,
        "deleted before retention passed"
    );
    clock.set(bucket_end + 10 * MIN);
    s.tick().await.expect("tick");
    assert_eq!(
        s.bucket_starts(),
        vec![bucket_end + HOUR],
        "expired bucket kept"
    );
    drop(s);
    let s = open(dir.path(), &clock, &rec);
    assert_eq!(s.bucket_starts(), vec![bucket_end + HOUR]);
    clock.set(T0 + 2 * HOUR);
    assert_eq!(drain(&s).await, 1);
}

#[tokio::test]
async fn run_loop_delivers_promptly_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = ManualClock::new(T0);
    let rec = Recording::new(&clock);
    let s = Arc::new(open(dir.path(), &clock, &rec));
    let token = tokio_util::sync::CancellationToken::new();
    let runner = {
        let (s, t) = (Arc::clone(&s), token.clone());
        tokio::spawn(async move { s.run(t).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    schedule_all(&s, &[msg("now", T0), msg("soon", T0 + 50)]);
    for _ in 0..200 {
        if !rec.delivered().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        rec.counts().len(),
        1,
        "due message not delivered by the run loop"
    );
    clock.advance(50);
    for _ in 0..200 {
        if rec.delivered().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(rec.counts().len(), 2);
    token.cancel();
    runner.await.expect("run loop ends");
    // The shutdown sync moved the checkpoint to the end of the message log: reopening
    // replays nothing and re-sends nothing.
    drop(s);
    let s = open(dir.path(), &clock, &rec);
    assert_eq!(drain(&s).await, 0);
}
