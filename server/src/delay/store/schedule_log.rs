//! Schedule logs (`schedule_log/<bucket start>.sched`): the messages of one time bucket, in
//! arrival order, copied from the message log.
//!
//! Frames are `frame.rs` frames with magic "QDS1" and a `record.rs` schedule-log body.
//!
//! Invariants worth naming:
//! - Sequences within one file strictly increase, so "is this message-log record already here?"
//!   is `sequence <= last sequence of the file`; replay after a crash relies on it.
//! - Only a file written since the last checkpoint can have a torn tail; replay recovers it
//!   (truncate, then re-append from the message log) before anything reads it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::DelayStoreError;
use super::frame::{self, SCHEDULE_MAGIC};
use super::record;

/// An open schedule log, positioned for appends.
#[derive(Debug)]
pub(crate) struct ScheduleLog {
    path: PathBuf,
    file: File,
    len: u64,
    synced_len: u64,
    /// Highest sequence in the file, when known (after [`ScheduleLog::recover`] or an append).
    last_sequence: Option<u64>,
}

fn open_file(path: &Path) -> Result<File, DelayStoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| DelayStoreError::io("open", path, e))
}

impl ScheduleLog {
    /// Opens `path` for appending without reading it (the file is trusted up to its length).
    ///
    /// # Errors
    /// I/O failures of the open.
    pub(crate) fn open(path: &Path) -> Result<Self, DelayStoreError> {
        let file = open_file(path)?;
        let len = file
            .metadata()
            .map_err(|e| DelayStoreError::io("stat", path, e))?
            .len();
        Ok(Self {
            path: path.to_path_buf(),
            file,
            len,
            synced_len: len,
            last_sequence: None,
        })
    }

    /// Opens `path`, cuts a torn tail, and learns the highest sequence in it.
    ///
    /// # Errors
    /// I/O failures and corruption in the middle of the file.
    pub(crate) fn recover(path: &Path) -> Result<Self, DelayStoreError> {
        let mut log = Self::open(path)?;
        let mut last = None;
        let scanned = frame::scan(&log.file, path, SCHEDULE_MAGIC, 0, |offset, body| {
            let (seq, _) = record::schedule_key(body).ok_or_else(|| DelayStoreError::Corrupt {
                path: path.to_path_buf(),
                offset,
                reason: "malformed schedule record",
            })?;
            last = Some(seq);
            Ok(())
        })?;
        frame::truncate_torn_tail(&log.file, path, scanned)?;
        log.len = scanned.end;
        log.synced_len = scanned.end;
        log.last_sequence = last;
        Ok(log)
    }

    /// Highest sequence appended or found by [`ScheduleLog::recover`].
    pub(crate) fn last_sequence(&self) -> Option<u64> {
        self.last_sequence
    }

    /// Appends already-framed bytes whose last sequence is `last_sequence`; returns the offset
    /// of their first byte.
    ///
    /// # Errors
    /// I/O failures of the write.
    pub(crate) fn append(
        &mut self,
        frames: &[u8],
        last_sequence: u64,
    ) -> Result<u64, DelayStoreError> {
        let start = self.len;
        if let Err(e) = self.file.write_all(frames) {
            let _ = self.file.set_len(self.len);
            return Err(DelayStoreError::io("append", &self.path, e));
        }
        self.len += frames.len() as u64;
        self.last_sequence = Some(last_sequence);
        Ok(start)
    }

    /// Fsyncs the file if it changed since the last call.
    ///
    /// # Errors
    /// The fsync failure.
    pub(crate) fn sync(&mut self) -> Result<(), DelayStoreError> {
        if self.synced_len == self.len {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|e| DelayStoreError::io("fsync", &self.path, e))?;
        self.synced_len = self.len;
        Ok(())
    }

    /// A second descriptor to fsync outside the store lock, if anything is unsynced; the bytes
    /// written so far count as synced from now on (a failed fsync poisons the store).
    ///
    /// # Errors
    /// The descriptor cannot be duplicated.
    pub(crate) fn sync_handle(&mut self) -> Result<Option<(PathBuf, File)>, DelayStoreError> {
        if self.synced_len == self.len {
            return Ok(None);
        }
        let f = self
            .file
            .try_clone()
            .map_err(|e| DelayStoreError::io("dup", &self.path, e))?;
        self.synced_len = self.len;
        Ok(Some((self.path.clone(), f)))
    }

    /// Whether bytes were appended since the last [`ScheduleLog::sync`].
    pub(crate) fn is_dirty(&self) -> bool {
        self.synced_len != self.len
    }
}

/// One message of a schedule log, without its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexItem {
    /// Offset of its frame in the schedule log.
    pub offset: u64,
    /// Size of its frame.
    pub size: u32,
    /// Its sequence.
    pub sequence: u64,
    /// The producer's delivery time.
    pub schedule_time_ms: i64,
}

/// Reads the index of the schedule log at `path` (an absent file is empty).
///
/// A torn tail is not cut here (its writer may still be open); it is simply not indexed.
///
/// # Errors
/// I/O failures and corruption in the middle of the file.
pub(crate) fn read_index(
    path: &Path,
    mut visit: impl FnMut(IndexItem),
) -> Result<(), DelayStoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DelayStoreError::io("open", path, e)),
    };
    frame::scan(&file, path, SCHEDULE_MAGIC, 0, |offset, body| {
        let corrupt = |reason| DelayStoreError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason,
        };
        let (sequence, schedule_time_ms) =
            record::schedule_key(body).ok_or_else(|| corrupt("malformed schedule record"))?;
        let size = u32::try_from(frame::HEADER_LEN + body.len())
            .map_err(|_| corrupt("record too large"))?;
        visit(IndexItem {
            offset,
            size,
            sequence,
            schedule_time_ms,
        });
        Ok(())
    })?;
    Ok(())
}
