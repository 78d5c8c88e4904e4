//! The scheduler: accepts delay messages into the store, keeps the buckets that are due soon in
//! the timing wheel, and hands due messages to a [`Dispatcher`].
//!
//! Invariants worth naming:
//! - Every bucket below `loaded_until` has had its schedule log read into the wheel (minus what
//!   its dispatch log holds); later buckets stay on disk until the look-ahead window reaches them.
//!   A message appended to a loaded bucket goes straight into the wheel.
//! - A sequence reaches the dispatch log only after the dispatcher confirmed it; a crash in
//!   between re-sends exactly the messages that were in flight.
//! - A bucket is deleted only when it has ended, nothing of it is pending or in flight, and its
//!   retention has passed.
//! - The state mutex is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::clock::Clock;
use super::config::DelayConfig;
use super::dispatcher::{Dispatcher, DueMessage, SubjectBatch};
use super::error::DelayError;
use super::message::{DelayMessage, MAX_SCHEDULE_TIME_MS, ScheduleError};
use super::store::{
    AppendRequest, BucketId, DelayStore, DelayStoreError, FlushPolicy, SyncOutcome,
};
use super::wheel::{TimingWheel, WheelEntry};

/// How often the store is synced when the flush policy is [`FlushPolicy::SyncBeforeAck`] (the
/// schedule and dispatch logs and the checkpoint still need a periodic fsync).
const SYNC_BEFORE_ACK_CHECKPOINT_MS: u64 = 1_000;

/// What one [`DelayScheduler::tick`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    /// Messages a broker confirmed.
    pub dispatched: usize,
    /// Messages that failed and were put back for a retry.
    pub failed: usize,
    /// Due time of the earliest pending message in memory.
    pub next_due_ms: Option<i64>,
}

struct State {
    store: DelayStore,
    wheel: TimingWheel,
    loaded_until: Option<BucketId>,
    /// Loaded bucket → messages pending or in flight.
    loaded: BTreeMap<BucketId, u64>,
    /// Failed attempts per sequence, only for messages that failed at least once.
    attempts: HashMap<u64, u32>,
}

/// The delay role's engine, generic over how due messages reach a broker.
pub struct DelayScheduler<D: Dispatcher> {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
    dispatcher: Arc<D>,
    config: DelayConfig,
    dir: PathBuf,
    wake: Notify,
    dispatched: AtomicU64,
}

type Pending = (SubjectBatch, Vec<WheelEntry>);

impl<D: Dispatcher> DelayScheduler<D> {
    /// Opens the store in `dir` (recovering it) and builds a scheduler over it. Nothing is loaded
    /// into memory until the first [`DelayScheduler::tick`].
    ///
    /// # Errors
    /// [`DelayError::Config`] for an invalid `config`, [`DelayError::Store`] if recovery fails.
    pub fn open(
        dir: &Path,
        config: DelayConfig,
        clock: Arc<dyn Clock>,
        dispatcher: Arc<D>,
    ) -> Result<Self, DelayError> {
        config.validate()?;
        let store =
            DelayStore::open(dir, config.store_config()).map_err(|source| DelayError::Store {
                op: "opening",
                dir: dir.to_path_buf(),
                source,
            })?;
        Ok(Self {
            state: Mutex::new(State {
                store,
                wheel: TimingWheel::new(),
                loaded_until: None,
                loaded: BTreeMap::new(),
                attempts: HashMap::new(),
            }),
            clock,
            dispatcher,
            config,
            dir: dir.to_path_buf(),
            wake: Notify::new(),
            dispatched: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every mutation is a single
        // step), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn store_err(&self, op: &'static str, source: DelayStoreError) -> DelayError {
        DelayError::Store {
            op,
            dir: self.dir.clone(),
            source,
        }
    }

    /// Validates and stores `batch`; returns, per message, its sequence or why it was refused.
    /// Durable per the flush policy when this returns.
    ///
    /// # Errors
    /// [`DelayError::Store`] if the store fails; then none of the valid messages is accepted.
    pub fn schedule(
        &self,
        batch: &[DelayMessage],
    ) -> Result<Vec<Result<u64, ScheduleError>>, DelayError> {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let layout = st.store.layout();
        let mut results = Vec::with_capacity(batch.len());
        let mut reqs = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for (i, m) in batch.iter().enumerate() {
            let checked = m.validate(now, self.config.max_delay_ms).and_then(|t| {
                layout.bucket_of(t).map_err(|_| ScheduleError::Overflow {
                    schedule_time_ms: m.schedule_time_ms,
                    max_ms: MAX_SCHEDULE_TIME_MS,
                })
            });
            match checked {
                Ok(bucket) => {
                    reqs.push(AppendRequest {
                        subject: &m.subject,
                        message_id: &m.message_id,
                        record: &m.record,
                        schedule_time_ms: m.schedule_time_ms,
                        bucket,
                    });
                    slots.push(i);
                    results.push(Ok(0));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if reqs.is_empty() {
            return Ok(results);
        }
        let appended = st
            .store
            .append(&reqs, now)
            .map_err(|e| self.store_err("appending", e))?;
        let head = st.wheel.next_due();
        let mut wake = false;
        for ((&i, a), req) in slots.iter().zip(&appended).zip(&reqs) {
            if let Some(r) = results.get_mut(i) {
                *r = Ok(a.sequence);
            }
            if st.loaded_until.is_some_and(|until| a.bucket < until) {
                st.wheel.insert(WheelEntry {
                    due_ms: req.schedule_time_ms,
                    sequence: a.sequence,
                    offset: a.offset,
                    size: a.size,
                    bucket: a.bucket,
                });
                *st.loaded.entry(a.bucket).or_insert(0) += 1;
                wake |= head.is_none_or(|h| req.schedule_time_ms < h);
            }
        }
        drop(st);
        if wake {
            self.wake.notify_one();
        }
        Ok(results)
    }

    /// Loads buckets entering the look-ahead window, syncs and expires per configuration, and
    /// dispatches up to `dispatch_batch` due messages, waiting for the dispatcher's answers.
    ///
    /// # Errors
    /// [`DelayError::Store`] if loading, syncing, reading or recording fails. Dispatch failures
    /// are not errors: those messages are retried with backoff.
    pub async fn tick(&self) -> Result<TickReport, DelayError> {
        let now = self.clock.now_ms();
        let batches = {
            let mut st = self.lock();
            self.advance_window(&mut st, now)?;
            self.maintain(&mut st, now)?;
            let mut due = Vec::new();
            st.wheel.pop_due(now, self.config.dispatch_batch, &mut due);
            self.read_due(&mut st, due, now)
        };
        if batches.is_empty() {
            return Ok(TickReport {
                next_due_ms: self.lock().wheel.next_due(),
                ..TickReport::default()
            });
        }
        let answered = self.dispatch_all(batches).await;
        self.settle(answered)
    }

    fn advance_window(&self, st: &mut State, now: i64) -> Result<(), DelayError> {
        let layout = st.store.layout();
        let horizon = now
            .saturating_add(self.config.look_ahead_ms)
            .clamp(0, MAX_SCHEDULE_TIME_MS);
        let Ok(last) = layout.bucket_of(horizon) else {
            return Ok(());
        };
        let target = BucketId(last.0.saturating_add(1));
        let from = st.loaded_until;
        if from.is_some_and(|f| f >= target) {
            return Ok(());
        }
        let ids: Vec<BucketId> = st
            .store
            .buckets()
            .filter(|id| from.is_none_or(|f| *id >= f) && *id < target)
            .collect();
        for id in ids {
            let items = st
                .store
                .load_bucket(id)
                .map_err(|e| self.store_err("loading bucket", e))?;
            let n = items.len();
            st.wheel.extend(items.into_iter().map(|it| WheelEntry {
                due_ms: it.schedule_time_ms,
                sequence: it.sequence,
                offset: it.offset,
                size: it.size,
                bucket: id,
            }));
            st.loaded.insert(id, n as u64);
            // Advance per bucket so that a failure later never loads this one twice.
            st.loaded_until = Some(BucketId(id.0.saturating_add(1)));
            debug!(
                bucket_start_ms = layout.start_ms(id),
                pending = n,
                "bucket loaded"
            );
        }
        st.loaded_until = Some(target);
        Ok(())
    }

    fn maintain(&self, st: &mut State, now: i64) -> Result<(), DelayError> {
        let layout = st.store.layout();
        let expired: Vec<BucketId> = st
            .loaded
            .iter()
            .filter(|&(id, pending)| {
                *pending == 0 && layout.end_ms(*id).saturating_add(self.config.retention_ms) <= now
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            st.store
                .delete_bucket(id)
                .map_err(|e| self.store_err("deleting expired bucket", e))?;
            st.loaded.remove(&id);
        }
        Ok(())
    }

    fn retry_delay_ms(&self, st: &mut State, sequence: u64) -> i64 {
        let n = st.attempts.entry(sequence).or_insert(0);
        *n = n.saturating_add(1);
        let shift = (*n - 1).min(20);
        let delay = self
            .config
            .retry_backoff_ms
            .saturating_mul(1 << shift)
            .min(self.config.retry_backoff_max_ms);
        i64::try_from(delay).unwrap_or(i64::MAX)
    }

    fn retry(&self, st: &mut State, mut e: WheelEntry, now: i64) {
        e.due_ms = now.saturating_add(self.retry_delay_ms(st, e.sequence));
        st.wheel.insert(e);
    }

    fn read_due(&self, st: &mut State, due: Vec<WheelEntry>, now: i64) -> Vec<Pending> {
        let mut batches: Vec<Pending> = Vec::new();
        let mut by_subject: HashMap<String, usize> = HashMap::new();
        for e in due {
            let m = match st.store.read(e.bucket, e.offset, e.size) {
                Ok(m) => m,
                Err(err) => {
                    error!(sequence = e.sequence, cause = %err, "reading due message failed");
                    self.retry(st, e, now);
                    continue;
                }
            };
            let slot = *by_subject.entry(m.subject.clone()).or_insert_with(|| {
                batches.push((
                    SubjectBatch {
                        subject: m.subject.clone(),
                        messages: Vec::new(),
                    },
                    Vec::new(),
                ));
                batches.len() - 1
            });
            if let Some((batch, entries)) = batches.get_mut(slot) {
                batch.messages.push(DueMessage {
                    sequence: m.sequence,
                    schedule_time_ms: m.schedule_time_ms,
                    message_id: m.message_id,
                    record: m.record,
                });
                entries.push(e);
            }
        }
        batches
    }

    async fn dispatch_all(&self, batches: Vec<Pending>) -> Vec<(Vec<WheelEntry>, Vec<bool>)> {
        let mut entries_of = Vec::with_capacity(batches.len());
        let mut answers: Vec<Vec<bool>> = vec![Vec::new(); batches.len()];
        let mut set = JoinSet::new();
        for (i, (batch, entries)) in batches.into_iter().enumerate() {
            entries_of.push(entries);
            let d = Arc::clone(&self.dispatcher);
            set.spawn(async move {
                let r = d.dispatch(&batch).await;
                (i, batch.subject, r)
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, _, Ok(ok))) => {
                    if let Some(a) = answers.get_mut(i) {
                        *a = ok;
                    }
                }
                Ok((_, subject, Err(e))) => {
                    warn!(subject, cause = %e, "dispatch failed, will retry");
                }
                Err(e) => error!(cause = %e, "dispatch task failed, will retry"),
            }
        }
        entries_of.into_iter().zip(answers).collect()
    }

    fn settle(
        &self,
        answered: Vec<(Vec<WheelEntry>, Vec<bool>)>,
    ) -> Result<TickReport, DelayError> {
        let now = self.clock.now_ms();
        let mut st = self.lock();
        let mut report = TickReport::default();
        let mut done: BTreeMap<BucketId, Vec<u64>> = BTreeMap::new();
        for (entries, ok) in answered {
            for (i, e) in entries.into_iter().enumerate() {
                if ok.get(i).copied().unwrap_or(false) {
                    st.attempts.remove(&e.sequence);
                    done.entry(e.bucket).or_default().push(e.sequence);
                    report.dispatched += 1;
                } else {
                    self.retry(&mut st, e, now);
                    report.failed += 1;
                }
            }
        }
        let mut first_err = None;
        for (bucket, seqs) in done {
            if let Some(p) = st.loaded.get_mut(&bucket) {
                *p = p.saturating_sub(seqs.len() as u64);
            }
            // Already delivered: on failure they are re-sent after a restart, never lost.
            if let Err(e) = st.store.record_dispatched(bucket, &seqs) {
                first_err.get_or_insert(e);
            }
        }
        report.next_due_ms = st.wheel.next_due();
        self.dispatched
            .fetch_add(report.dispatched as u64, Ordering::Relaxed);
        match first_err {
            Some(e) => Err(self.store_err("recording dispatched messages", e)),
            None => Ok(report),
        }
    }

    /// Runs [`DelayScheduler::tick`] until `shutdown` is cancelled, sleeping until the next
    /// message is due but at most `tick_ms`, and waking early when an earlier message arrives.
    /// Alongside, syncs the store per the flush policy, with the fsyncs outside the state lock
    /// so that a slow disk delays neither producers nor dispatch. Syncs once more before
    /// returning.
    pub async fn run(&self, shutdown: CancellationToken) {
        tokio::join!(self.dispatch_loop(&shutdown), self.sync_loop(&shutdown));
        if let Err(e) = self.shutdown() {
            error!(cause = %e, "delay store sync at shutdown failed");
        }
    }

    /// One out-of-lock sync: collect under the lock, fsync on a blocking thread, finish under
    /// the lock.
    ///
    /// # Errors
    /// [`DelayError::Store`] if the sync fails (the store is then poisoned).
    pub async fn sync(&self) -> Result<(), DelayError> {
        let plan = self
            .lock()
            .store
            .begin_sync()
            .map_err(|e| self.store_err("syncing", e))?;
        let outcome = match tokio::task::spawn_blocking(move || plan.execute()).await {
            Ok(outcome) => outcome,
            Err(e) => SyncOutcome::from(DelayStoreError::io("fsync", &self.dir, e.into())),
        };
        self.lock()
            .store
            .finish_sync(outcome)
            .map_err(|e| self.store_err("syncing", e))
    }

    async fn sync_loop(&self, shutdown: &CancellationToken) {
        let interval = Duration::from_millis(match self.config.flush {
            FlushPolicy::Periodic { interval_ms } => interval_ms,
            FlushPolicy::SyncBeforeAck => SYNC_BEFORE_ACK_CHECKPOINT_MS,
        });
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            if let Err(e) = self.sync().await {
                error!(cause = %e, "delay store sync failed");
            }
        }
    }

    async fn dispatch_loop(&self, shutdown: &CancellationToken) {
        let tick = Duration::from_millis(self.config.tick_ms);
        while !shutdown.is_cancelled() {
            let wait = match self.tick().await {
                Ok(r) => {
                    let now = self.clock.now_ms();
                    r.next_due_ms.map_or(tick, |d| {
                        Duration::from_millis(u64::try_from(d.saturating_sub(now)).unwrap_or(0))
                            .min(tick)
                    })
                }
                Err(e) => {
                    error!(cause = %e, "delay tick failed");
                    Duration::from_secs(1)
                }
            };
            if wait.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Fsyncs everything and moves the checkpoint (a clean shutdown; skipping it loses nothing).
    ///
    /// # Errors
    /// [`DelayError::Store`] if the sync fails.
    pub fn shutdown(&self) -> Result<(), DelayError> {
        self.lock()
            .store
            .sync()
            .map_err(|e| self.store_err("syncing at shutdown", e))
    }

    /// The scheduler's current time.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Messages a broker confirmed since this scheduler was opened, for metrics and tests.
    pub fn dispatched_total(&self) -> u64 {
        self.dispatched.load(Ordering::Relaxed)
    }

    /// Messages held in memory (loaded buckets, including retries), for metrics and tests.
    pub fn pending_in_memory(&self) -> usize {
        self.lock().wheel.len()
    }

    /// Bytes the timing wheel holds, for metrics and benchmarks.
    pub fn wheel_memory_bytes(&self) -> usize {
        self.lock().wheel.memory_bytes()
    }

    /// Buckets with a schedule log on disk, as start times in ms.
    pub fn bucket_starts(&self) -> Vec<i64> {
        let st = self.lock();
        let layout = st.store.layout();
        st.store.buckets().map(|id| layout.start_ms(id)).collect()
    }
}
