//! The delay store: a write-ahead message log, one schedule log per time bucket, one dispatch log
//! per bucket, and a replay checkpoint, all under one directory:
//!
//! ```text
//! <dir>/message_log/<base offset>.wal     every accepted message, arrival order
//! <dir>/schedule_log/<bucket start>.sched the messages of one bucket, arrival order
//! <dir>/dispatch_log/<bucket start>.disp  sequences a broker confirmed
//! <dir>/checkpoint                        replay offset, sequence reservation, bucket length
//! ```
//!
//! Invariants worth naming:
//! - A message is in the message log before it is in a schedule log; a schedule log that is
//!   behind (lost or torn tail after a crash) is completed from the message log on open.
//! - The checkpoint's replay offset moves only after the message log and every schedule log were
//!   fsynced; message-log segments before it are deleted.
//! - Sequences are unique and increase in message-log order; they are reserved in blocks in the
//!   checkpoint so a crash never reuses one.
//! - After a failed write or fsync the store is poisoned and refuses appends until reopened.
//! - The store keeps no payloads in memory; readers get a copy from disk.

mod bucket;
mod checkpoint;
mod dispatch_log;
mod error;
mod frame;
mod message_log;
mod record;
mod schedule_log;
mod sync;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tracing::info;

pub use bucket::{BucketId, BucketLayout};
pub use error::DelayStoreError;
pub use record::MAX_RECORD_LEN;
pub use sync::{SyncOutcome, SyncPlan};

use checkpoint::{Checkpoint, CheckpointFile};
use dispatch_log::DispatchLog;
use message_log::MessageLog;
use record::{StoredRef, WalExtra};
pub use schedule_log::IndexItem;
use schedule_log::ScheduleLog;

/// Sequences reserved per checkpoint write.
const SEQUENCE_RESERVATION: u64 = 1 << 16;

/// When the message log is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlushPolicy {
    /// Fsync from [`DelayStore::sync`], called every `interval_ms` by the scheduler. A machine
    /// crash can lose acknowledged messages of the last interval; a process crash loses none.
    Periodic {
        /// Milliseconds between fsyncs.
        interval_ms: u64,
    },
    /// Fsync the message log before [`DelayStore::append`] returns, i.e. before the producer
    /// is answered.
    SyncBeforeAck,
}

/// Store settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Bucket length in milliseconds (at least one minute).
    pub bucket_len_ms: i64,
    /// When the message log is fsynced.
    pub flush: FlushPolicy,
    /// Size at which a message-log segment is sealed and a new one started.
    pub wal_segment_bytes: u64,
    /// Schedule logs kept open for appends at once (least recently used are closed).
    pub max_open_schedule_logs: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            bucket_len_ms: 3_600_000,
            flush: FlushPolicy::Periodic { interval_ms: 100 },
            wal_segment_bytes: 256 * 1024 * 1024,
            max_open_schedule_logs: 64,
        }
    }
}

/// A message to append.
#[derive(Debug, Clone, Copy)]
pub struct AppendRequest<'a> {
    /// Subject, as in the record.
    pub subject: &'a str,
    /// Message id, as in the record.
    pub message_id: &'a str,
    /// The whole SEND_MESSAGE wire record, leading CRC included.
    pub record: &'a [u8],
    /// The producer's delivery time (may lie in the past).
    pub schedule_time_ms: i64,
    /// The bucket whose schedule log gets the message.
    pub bucket: BucketId,
}

/// Where an appended message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Its sequence.
    pub sequence: u64,
    /// Its bucket.
    pub bucket: BucketId,
    /// Offset of its frame in the schedule log.
    pub offset: u64,
    /// Size of its frame.
    pub size: u32,
}

/// A message read back from a schedule log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its sequence.
    pub sequence: u64,
    /// The producer's delivery time.
    pub schedule_time_ms: i64,
    /// Subject.
    pub subject: String,
    /// Message id.
    pub message_id: String,
    /// The wire record, unchanged.
    pub record: Bytes,
}

/// The on-disk state of the delay role. Not thread-safe; the scheduler wraps it in a mutex.
#[derive(Debug)]
pub struct DelayStore {
    sched_dir: PathBuf,
    disp_dir: PathBuf,
    root: PathBuf,
    layout: BucketLayout,
    config: StoreConfig,
    wal: MessageLog,
    checkpoint: Arc<CheckpointFile>,
    next_sequence: u64,
    catalog: BTreeSet<BucketId>,
    writers: HashMap<BucketId, (ScheduleLog, u64)>,
    /// Buckets whose writer was closed with unsynced bytes; fsynced by the next `sync`.
    closed_dirty: BTreeSet<BucketId>,
    use_clock: u64,
    readers: HashMap<BucketId, File>,
    dispatch: HashMap<BucketId, DispatchLog>,
    poisoned: Option<PathBuf>,
}

fn list_buckets(dir: &Path, layout: &BucketLayout) -> Result<BTreeSet<BucketId>, DelayStoreError> {
    let mut out = BTreeSet::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DelayStoreError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DelayStoreError::io("list", dir, e))?;
        let name = entry.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".sched"))
            .and_then(|stem| layout.parse_stem(stem))
        {
            out.insert(id);
        }
    }
    Ok(out)
}

impl DelayStore {
    /// Opens (or creates) the store in `dir`, completing schedule logs from the message log.
    ///
    /// # Errors
    /// I/O failures, corruption, and a bucket length different from the one on disk.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<Self, DelayStoreError> {
        let layout = BucketLayout::new(config.bucket_len_ms)?;
        let wal_dir = dir.join("message_log");
        let sched_dir = dir.join("schedule_log");
        let disp_dir = dir.join("dispatch_log");
        for d in [dir, &wal_dir, &sched_dir, &disp_dir] {
            std::fs::create_dir_all(d).map_err(|e| DelayStoreError::io("create dir", d, e))?;
        }
        let cp = match checkpoint::load(dir)? {
            Some(cp) if cp.bucket_len_ms != layout.len_ms() => {
                return Err(DelayStoreError::BucketLengthChanged {
                    path: checkpoint::path(dir),
                    on_disk_ms: cp.bucket_len_ms,
                    configured_ms: layout.len_ms(),
                });
            }
            Some(cp) => cp,
            None => Checkpoint {
                replay_offset: 0,
                sequence_limit: 0,
                bucket_len_ms: layout.len_ms(),
            },
        };
        let mut catalog = list_buckets(&sched_dir, &layout)?;

        let mut replaying: HashMap<BucketId, ScheduleLog> = HashMap::new();
        let mut max_seq: Option<u64> = None;
        let mut replayed = 0u64;
        let mut buf = Vec::new();
        let wal = MessageLog::open(
            &wal_dir,
            config.wal_segment_bytes,
            cp.replay_offset,
            |off, body| {
                let corrupt = |reason| DelayStoreError::Corrupt {
                    path: wal_dir.clone(),
                    offset: off,
                    reason,
                };
                let (m, extra) =
                    record::decode_wal(body).ok_or_else(|| corrupt("malformed record"))?;
                let id = layout
                    .bucket_of(extra.bucket_start_ms)
                    .map_err(|_| corrupt("bucket start out of range"))?;
                max_seq = max_seq.max(Some(m.sequence));
                let log = match replaying.entry(id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let path = sched_dir.join(format!("{}.sched", layout.file_stem(id)));
                        v.insert(ScheduleLog::recover(&path)?)
                    }
                };
                if log.last_sequence().is_none_or(|last| m.sequence > last) {
                    buf.clear();
                    let mut body = Vec::new();
                    record::encode_schedule(&m, &mut body);
                    frame::encode(frame::SCHEDULE_MAGIC, &body, &mut buf);
                    log.append(&buf, m.sequence)?;
                    replayed += 1;
                }
                catalog.insert(id);
                Ok(())
            },
        )?;
        for log in replaying.values_mut() {
            log.sync()?;
        }
        checkpoint::sync_dir(&sched_dir)?;
        let next_sequence = cp
            .sequence_limit
            .max(max_seq.map_or(0, |s| s.saturating_add(1)));
        let checkpoint = Checkpoint {
            replay_offset: wal.end_offset(),
            sequence_limit: next_sequence.saturating_add(SEQUENCE_RESERVATION),
            bucket_len_ms: layout.len_ms(),
        };
        checkpoint::store(dir, &checkpoint)?;
        let checkpoint = Arc::new(CheckpointFile::new(dir, checkpoint));
        info!(
            dir = %dir.display(),
            replayed,
            buckets = catalog.len(),
            next_sequence,
            "delay store opened"
        );
        Ok(Self {
            sched_dir,
            disp_dir,
            root: dir.to_path_buf(),
            layout,
            config,
            wal,
            checkpoint,
            next_sequence,
            catalog,
            writers: HashMap::new(),
            closed_dirty: BTreeSet::new(),
            use_clock: 0,
            readers: HashMap::new(),
            dispatch: HashMap::new(),
            poisoned: None,
        })
    }

    /// The bucket layout in use.
    pub fn layout(&self) -> BucketLayout {
        self.layout
    }

    /// The flush policy in use.
    pub fn flush_policy(&self) -> FlushPolicy {
        self.config.flush
    }

    /// Buckets that have a schedule log, in time order.
    pub fn buckets(&self) -> impl Iterator<Item = BucketId> + '_ {
        self.catalog.iter().copied()
    }

    fn sched_path(&self, id: BucketId) -> PathBuf {
        self.sched_dir
            .join(format!("{}.sched", self.layout.file_stem(id)))
    }

    fn disp_path(&self, id: BucketId) -> PathBuf {
        self.disp_dir
            .join(format!("{}.disp", self.layout.file_stem(id)))
    }

    fn check_poison(&self) -> Result<(), DelayStoreError> {
        match &self.poisoned {
            Some(path) => Err(DelayStoreError::Poisoned { path: path.clone() }),
            None => Ok(()),
        }
    }

    fn poison<T>(&mut self, r: Result<T, DelayStoreError>) -> Result<T, DelayStoreError> {
        if let Err(e) = &r {
            let path = match e {
                DelayStoreError::Io { path, .. } => path.clone(),
                _ => self.root.clone(),
            };
            self.poisoned = Some(path);
        }
        r
    }

    /// Appends `batch` to the message log and to the schedule logs of its buckets, in order.
    ///
    /// # Errors
    /// [`DelayStoreError::FieldTooLong`] before anything is written; I/O failures, after which
    /// the store is poisoned; [`DelayStoreError::Poisoned`].
    pub fn append(
        &mut self,
        batch: &[AppendRequest<'_>],
        now_ms: i64,
    ) -> Result<Vec<Appended>, DelayStoreError> {
        self.check_poison()?;
        for m in batch {
            record::check_lengths(m.subject, m.message_id, m.record)?;
        }
        let n = batch.len() as u64;
        if self.next_sequence.saturating_add(n) > self.checkpoint.current().sequence_limit {
            let limit = self
                .next_sequence
                .saturating_add(n)
                .saturating_add(SEQUENCE_RESERVATION);
            let r = self.checkpoint.advance(0, limit);
            self.poison(r)?;
        }
        let first = self.next_sequence;
        let mut wal_buf = Vec::new();
        let mut body = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            body.clear();
            let stored = self.stored_ref(m, first + i as u64);
            let extra = WalExtra {
                bucket_start_ms: self.layout.start_ms(m.bucket),
                received_ms: now_ms,
            };
            record::encode_wal(&stored, extra, &mut body);
            frame::encode(frame::WAL_MAGIC, &body, &mut wal_buf);
        }
        let r = self.wal.append(&wal_buf);
        self.poison(r)?;
        self.next_sequence = first + n;
        if self.config.flush == FlushPolicy::SyncBeforeAck {
            let r = self.wal.sync();
            self.poison(r)?;
        }
        let r = self.append_schedules(batch, first);
        self.poison(r)
    }

    fn stored_ref<'a>(&self, m: &AppendRequest<'a>, sequence: u64) -> StoredRef<'a> {
        StoredRef {
            sequence,
            schedule_time_ms: m.schedule_time_ms,
            subject: m.subject,
            message_id: m.message_id,
            record: m.record,
        }
    }

    fn append_schedules(
        &mut self,
        batch: &[AppendRequest<'_>],
        first: u64,
    ) -> Result<Vec<Appended>, DelayStoreError> {
        let mut out = Vec::with_capacity(batch.len());
        let mut body = Vec::new();
        let mut buf = Vec::new();
        let mut i = 0;
        while i < batch.len() {
            let Some(bucket) = batch.get(i).map(|m| m.bucket) else {
                break;
            };
            buf.clear();
            let mut sizes = Vec::new();
            let mut j = i;
            while let Some(m) = batch.get(j).filter(|m| m.bucket == bucket) {
                body.clear();
                record::encode_schedule(&self.stored_ref(m, first + j as u64), &mut body);
                let before = buf.len();
                frame::encode(frame::SCHEDULE_MAGIC, &body, &mut buf);
                sizes.push(u32::try_from(buf.len() - before).unwrap_or(u32::MAX));
                j += 1;
            }
            let last_seq = first + (j - 1) as u64;
            let mut offset = self.writer(bucket)?.append(&buf, last_seq)?;
            for (k, size) in sizes.into_iter().enumerate() {
                out.push(Appended {
                    sequence: first + (i + k) as u64,
                    bucket,
                    offset,
                    size,
                });
                offset += u64::from(size);
            }
            i = j;
        }
        Ok(out)
    }

    fn writer(&mut self, id: BucketId) -> Result<&mut ScheduleLog, DelayStoreError> {
        self.use_clock += 1;
        let tick = self.use_clock;
        if !self.writers.contains_key(&id) {
            if self.writers.len() >= self.config.max_open_schedule_logs.max(1) {
                let oldest = self
                    .writers
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| *k);
                if let Some((k, (log, _))) = oldest.and_then(|k| self.writers.remove_entry(&k))
                    && log.is_dirty()
                {
                    // The checkpoint must not pass its unsynced bytes: `sync` fsyncs it later
                    // (fsync covers every dirty page of the file, whichever descriptor wrote it).
                    self.closed_dirty.insert(k);
                }
            }
            let log = ScheduleLog::open(&self.sched_path(id))?;
            if self.catalog.insert(id) {
                checkpoint::sync_dir(&self.sched_dir)?;
            }
            self.writers.insert(id, (log, tick));
        }
        let entry = self
            .writers
            .get_mut(&id)
            .ok_or_else(|| DelayStoreError::Corrupt {
                path: self.sched_dir.clone(),
                offset: 0,
                reason: "schedule log writer vanished",
            })?;
        entry.1 = tick;
        Ok(&mut entry.0)
    }

    /// Reads the index of `id`'s schedule log, leaving out what its dispatch log records, and
    /// opens the bucket for [`DelayStore::read`] and [`DelayStore::record_dispatched`].
    ///
    /// # Errors
    /// I/O failures and corruption.
    pub fn load_bucket(&mut self, id: BucketId) -> Result<Vec<IndexItem>, DelayStoreError> {
        let (log, done) = DispatchLog::open(&self.disp_path(id))?;
        self.dispatch.insert(id, log);
        let mut pending = Vec::new();
        schedule_log::read_index(&self.sched_path(id), |item| {
            if done.binary_search(&item.sequence).is_err() {
                pending.push(item);
            }
        })?;
        Ok(pending)
    }

    /// Reads the message at `offset`/`size` of `id`'s schedule log.
    ///
    /// # Errors
    /// I/O failures and corruption (the frame there does not verify).
    pub fn read(
        &mut self,
        id: BucketId,
        offset: u64,
        size: u32,
    ) -> Result<StoredMessage, DelayStoreError> {
        let path = self.sched_path(id);
        let file = match self.readers.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                v.insert(File::open(&path).map_err(|e| DelayStoreError::io("open", &path, e))?)
            }
        };
        let body = frame::read_at(file, &path, frame::SCHEDULE_MAGIC, offset, size)?;
        let m = record::decode_schedule(&body).ok_or_else(|| DelayStoreError::Corrupt {
            path: path.clone(),
            offset,
            reason: "malformed schedule record",
        })?;
        Ok(StoredMessage {
            sequence: m.sequence,
            schedule_time_ms: m.schedule_time_ms,
            subject: m.subject.to_owned(),
            message_id: m.message_id.to_owned(),
            record: Bytes::copy_from_slice(m.record),
        })
    }

    /// Records that a broker confirmed `sequences` of bucket `id`.
    ///
    /// # Errors
    /// I/O failures of the open or write.
    pub fn record_dispatched(
        &mut self,
        id: BucketId,
        sequences: &[u64],
    ) -> Result<(), DelayStoreError> {
        let path = self.disp_path(id);
        let log = match self.dispatch.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => v.insert(DispatchLog::open(&path)?.0),
        };
        log.append(sequences)
    }

    /// Deletes the schedule and dispatch logs of `id`, after a [`DelayStore::sync`] so that no
    /// replay can bring its messages back.
    ///
    /// # Errors
    /// I/O failures.
    pub fn delete_bucket(&mut self, id: BucketId) -> Result<(), DelayStoreError> {
        self.sync()?;
        self.writers.remove(&id);
        self.closed_dirty.remove(&id);
        self.readers.remove(&id);
        self.dispatch.remove(&id);
        for path in [self.sched_path(id), self.disp_path(id)] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DelayStoreError::io("delete", &path, e)),
            }
        }
        self.catalog.remove(&id);
        checkpoint::sync_dir(&self.sched_dir)?;
        checkpoint::sync_dir(&self.disp_dir)?;
        info!(bucket_start_ms = self.layout.start_ms(id), "bucket deleted");
        Ok(())
    }

    /// Path of the newest message-log segment (for tests and diagnostics).
    pub fn message_log_path(&self) -> &Path {
        self.wal.active_path()
    }
}

#[cfg(test)]
mod tests;
