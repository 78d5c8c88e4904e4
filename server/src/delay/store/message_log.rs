//! The write-ahead message log (`message_log/`): every accepted delay message, in arrival order.
//!
//! Segments are files named by their base offset (20 digits, `.wal`); offsets are global, a
//! segment holds `[base, base + len)`. Frames are `frame.rs` frames with magic "QDW1" and a
//! `record.rs` message-log body.
//!
//! Invariants worth naming:
//! - Only the newest segment is ever written; a batch never straddles two segments.
//! - A segment is fsynced before the next one is created, so only the newest can have a torn tail;
//!   a bad frame in an older segment is corruption.
//! - Segments are deleted only when they end at or before the checkpoint's replay offset.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use tracing::info;

use super::checkpoint::sync_dir;
use super::error::DelayStoreError;
use super::frame::{self, WAL_MAGIC};

/// The message log of one delay store.
#[derive(Debug)]
pub(crate) struct MessageLog {
    dir: PathBuf,
    segment_bytes: u64,
    /// Base offset → length of every segment but the active one.
    sealed: BTreeMap<u64, u64>,
    active: File,
    active_path: PathBuf,
    active_base: u64,
    active_len: u64,
    synced_len: u64,
}

fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.wal"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, DelayStoreError> {
    let mut bases = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| DelayStoreError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| DelayStoreError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if stem.len() == 20
            && let Ok(base) = stem.parse::<u64>()
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

fn open_rw(path: &Path, create: bool) -> Result<File, DelayStoreError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .create(create)
        .open(path)
        .map_err(|e| DelayStoreError::io("open", path, e))
}

impl MessageLog {
    /// Opens (or creates) the log in `dir`, replaying every frame at or after `replay_from`
    /// through `visit(offset, body)` and cutting a torn tail off the newest segment.
    ///
    /// # Errors
    /// I/O failures, corruption in a sealed segment, a gap between segments, a `replay_from`
    /// beyond the end of the log, and whatever `visit` returns.
    pub(crate) fn open(
        dir: &Path,
        segment_bytes: u64,
        replay_from: u64,
        mut visit: impl FnMut(u64, &[u8]) -> Result<(), DelayStoreError>,
    ) -> Result<Self, DelayStoreError> {
        std::fs::create_dir_all(dir).map_err(|e| DelayStoreError::io("create dir", dir, e))?;
        let mut bases = list_segments(dir)?;
        if bases.is_empty() {
            let path = segment_path(dir, replay_from);
            open_rw(&path, true)?;
            sync_dir(dir)?;
            bases.push(replay_from);
        }
        let last = bases.len() - 1;
        let mut sealed = BTreeMap::new();
        let mut expected_base: Option<u64> = None;
        let mut active = None;
        for (i, &base) in bases.iter().enumerate() {
            let path = segment_path(dir, base);
            if let Some(expected) = expected_base
                && expected != base
            {
                return Err(DelayStoreError::Corrupt {
                    path,
                    offset: 0,
                    reason: "gap between message log segments",
                });
            }
            let file = open_rw(&path, false)?;
            let mut len = file
                .metadata()
                .map_err(|e| DelayStoreError::io("stat", &path, e))?
                .len();
            if base + len > replay_from || i == last {
                let start = replay_from.saturating_sub(base);
                if start > len {
                    return Err(DelayStoreError::Corrupt {
                        path,
                        offset: len,
                        reason: "checkpoint beyond end of message log",
                    });
                }
                let scanned = frame::scan(&file, &path, WAL_MAGIC, start, |off, body| {
                    visit(base + off, body)
                })?;
                if scanned.end < scanned.file_len {
                    if i != last {
                        return Err(DelayStoreError::Corrupt {
                            path,
                            offset: scanned.end,
                            reason: "bad frame in sealed message log segment",
                        });
                    }
                    frame::truncate_torn_tail(&file, &path, scanned)?;
                }
                len = scanned.end;
            }
            expected_base = Some(base + len);
            if i == last {
                active = Some((file, path, base, len));
            } else {
                sealed.insert(base, len);
            }
        }
        let (active, active_path, active_base, active_len) =
            active.ok_or_else(|| DelayStoreError::Corrupt {
                path: dir.to_path_buf(),
                offset: 0,
                reason: "message log has no segment",
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            segment_bytes,
            sealed,
            active,
            active_path,
            active_base,
            active_len,
            synced_len: active_len,
        })
    }

    /// Offset just past the last frame.
    pub(crate) fn end_offset(&self) -> u64 {
        self.active_base + self.active_len
    }

    /// Appends already-framed bytes in one write, returning the offset of the first byte.
    ///
    /// # Errors
    /// I/O failures of the write, or of sealing the segment when it is full.
    pub(crate) fn append(&mut self, frames: &[u8]) -> Result<u64, DelayStoreError> {
        if self.active_len > 0 && self.active_len + frames.len() as u64 > self.segment_bytes {
            self.roll()?;
        }
        let start = self.end_offset();
        if let Err(e) = self.active.write_all(frames) {
            // A partial write would leave a torn frame in the middle of later ones: cut it now.
            let _ = self.active.set_len(self.active_len);
            return Err(DelayStoreError::io("append", &self.active_path, e));
        }
        self.active_len += frames.len() as u64;
        Ok(start)
    }

    fn roll(&mut self) -> Result<(), DelayStoreError> {
        self.sync()?;
        let base = self.end_offset();
        let path = segment_path(&self.dir, base);
        let file = open_rw(&path, true)?;
        sync_dir(&self.dir)?;
        self.sealed.insert(self.active_base, self.active_len);
        self.active = file;
        self.active_path = path;
        self.active_base = base;
        self.active_len = 0;
        self.synced_len = 0;
        Ok(())
    }

    /// Fsyncs the newest segment if anything was written since the last call.
    ///
    /// # Errors
    /// The fsync failure; the caller must poison the store.
    pub(crate) fn sync(&mut self) -> Result<(), DelayStoreError> {
        if self.synced_len == self.active_len {
            return Ok(());
        }
        self.active
            .sync_data()
            .map_err(|e| DelayStoreError::io("fsync", &self.active_path, e))?;
        self.synced_len = self.active_len;
        Ok(())
    }

    /// A second descriptor of the newest segment to fsync outside the store lock, if anything
    /// is unsynced.
    ///
    /// # Errors
    /// The descriptor cannot be duplicated.
    pub(crate) fn sync_handle(&mut self) -> Result<Option<(PathBuf, File)>, DelayStoreError> {
        if self.synced_len == self.active_len {
            return Ok(None);
        }
        let f = self
            .active
            .try_clone()
            .map_err(|e| DelayStoreError::io("dup", &self.active_path, e))?;
        self.synced_len = self.active_len;
        Ok(Some((self.active_path.clone(), f)))
    }

    /// Path of the newest segment (for error context).
    pub(crate) fn active_path(&self) -> &Path {
        &self.active_path
    }

    /// Deletes sealed segments that end at or before `offset`; returns how many.
    ///
    /// # Errors
    /// I/O failures of the delete.
    pub(crate) fn delete_before(&mut self, offset: u64) -> Result<usize, DelayStoreError> {
        let doomed: Vec<u64> = self
            .sealed
            .iter()
            .filter(|&(&base, &len)| base + len <= offset)
            .map(|(&base, _)| base)
            .collect();
        for base in &doomed {
            let path = segment_path(&self.dir, *base);
            std::fs::remove_file(&path).map_err(|e| DelayStoreError::io("delete", &path, e))?;
            self.sealed.remove(base);
            info!(path = %path.display(), "message log segment deleted");
        }
        if !doomed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(doomed.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize, tag: u8) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            frame::encode(WAL_MAGIC, &[tag, i as u8, 0, 0, 0, 0, 0, 0, 0, 0], &mut out);
        }
        out
    }

    fn reopen(dir: &Path, seg: u64, from: u64) -> (MessageLog, Vec<u64>) {
        let mut seen = Vec::new();
        let log = MessageLog::open(dir, seg, from, |off, _| {
            seen.push(off);
            Ok(())
        })
        .expect("open");
        (log, seen)
    }

    #[test]
    fn segments_roll_and_replay_starts_at_the_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, seen) = reopen(dir.path(), 100, 0);
        assert!(seen.is_empty());
        let batch = frames(2, 1); // 2 × 23 bytes
        let mut starts = Vec::new();
        for _ in 0..5 {
            starts.push(log.append(&batch).expect("append"));
        }
        log.sync().expect("sync");
        assert_eq!(list_segments(dir.path()).expect("list").len(), 3);
        drop(log);

        let (_, seen) = reopen(dir.path(), 100, 0);
        assert_eq!(seen.len(), 10);
        let (mut log, seen) = reopen(dir.path(), 100, starts[3]);
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], starts[3]);
        assert_eq!(log.delete_before(starts[3]).expect("delete"), 1);
        assert_eq!(list_segments(dir.path()).expect("list").len(), 2);
        drop(log);
        let (log, seen) = reopen(dir.path(), 100, starts[3]);
        assert_eq!(seen.len(), 4);
        assert_eq!(log.end_offset(), starts[4] + batch.len() as u64);
    }

    #[test]
    fn torn_tail_of_newest_segment_is_truncated_on_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = reopen(dir.path(), 1 << 20, 0);
        log.append(&frames(3, 2)).expect("append");
        let end = log.end_offset();
        drop(log);
        let path = segment_path(dir.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        let torn = frames(1, 3);
        f.write_all(&torn[..torn.len() - 4]).expect("torn write");
        drop(f);
        let (log, seen) = reopen(dir.path(), 1 << 20, 0);
        assert_eq!(seen.len(), 3);
        assert_eq!(log.end_offset(), end);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), end);
    }
}
