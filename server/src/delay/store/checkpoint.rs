//! The replay checkpoint: how far the message log has been copied into durable schedule logs,
//! and the sequences handed out so far.
//!
//! File `checkpoint`: one frame (see `frame.rs`, magic "QDC1") whose body is
//! `u64 replay_offset, u64 sequence_limit, i64 bucket_len_ms` (big-endian).
//!
//! Invariants worth naming:
//! - Written to `checkpoint.tmp`, fsynced, renamed over `checkpoint`, then the directory is
//!   fsynced: a reader sees the old or the new checkpoint, never a mix.
//! - `replay_offset` only moves after every schedule log written before it was fsynced.
//! - No sequence at or above `sequence_limit` has been used, so after a crash numbering resumes
//!   there and never reuses a sequence that reached a schedule log but not the message log.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::error::DelayStoreError;
use super::frame;

const CHECKPOINT_MAGIC: u32 = 0x5144_4331;
const BODY_LEN: usize = 24;

/// Persistent replay state of the delay store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Message-log offset up to which every record is in a fsynced schedule log.
    pub replay_offset: u64,
    /// Sequences below this may have been used; the next run starts here.
    pub sequence_limit: u64,
    /// Bucket length the schedule logs were written with.
    pub bucket_len_ms: i64,
}

/// The checkpoint of one store, shared by the store and its out-of-lock sync plans. Writes are
/// serialised and only ever move each field forward, so a slow sync cannot undo a newer
/// sequence reservation.
#[derive(Debug)]
pub(crate) struct CheckpointFile {
    dir: PathBuf,
    current: Mutex<Checkpoint>,
}

impl CheckpointFile {
    /// Wraps the checkpoint last written to `dir`.
    pub(crate) fn new(dir: &Path, current: Checkpoint) -> Self {
        Self {
            dir: dir.to_path_buf(),
            current: Mutex::new(current),
        }
    }

    /// The checkpoint as last written.
    pub(crate) fn current(&self) -> Checkpoint {
        *self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a checkpoint whose fields are the larger of the current ones and the given ones.
    ///
    /// # Errors
    /// I/O failures of the write; the file then still holds the previous checkpoint.
    pub(crate) fn advance(
        &self,
        replay_offset: u64,
        sequence_limit: u64,
    ) -> Result<Checkpoint, DelayStoreError> {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let next = Checkpoint {
            replay_offset: cur.replay_offset.max(replay_offset),
            sequence_limit: cur.sequence_limit.max(sequence_limit),
            bucket_len_ms: cur.bucket_len_ms,
        };
        if next != *cur {
            store(&self.dir, &next)?;
            *cur = next;
        }
        Ok(next)
    }
}

/// Path of the checkpoint file in `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join("checkpoint")
}

/// Reads the checkpoint in `dir`, `None` if there is none yet.
///
/// # Errors
/// I/O failures, and [`DelayStoreError::Corrupt`] if the file does not verify.
pub(crate) fn load(dir: &Path) -> Result<Option<Checkpoint>, DelayStoreError> {
    let path = path(dir);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DelayStoreError::io("open", &path, e)),
    };
    let size = file
        .metadata()
        .map_err(|e| DelayStoreError::io("stat", &path, e))?
        .len();
    let size = u32::try_from(size).map_err(|_| DelayStoreError::Corrupt {
        path: path.clone(),
        offset: 0,
        reason: "checkpoint too large",
    })?;
    let body = frame::read_at(&file, &path, CHECKPOINT_MAGIC, 0, size)?;
    let field = |i: usize| -> Result<[u8; 8], DelayStoreError> {
        body.get(i * 8..i * 8 + 8)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| DelayStoreError::Corrupt {
                path: path.clone(),
                offset: 0,
                reason: "checkpoint body too short",
            })
    };
    Ok(Some(Checkpoint {
        replay_offset: u64::from_be_bytes(field(0)?),
        sequence_limit: u64::from_be_bytes(field(1)?),
        bucket_len_ms: i64::from_be_bytes(field(2)?),
    }))
}

/// Atomically replaces the checkpoint in `dir` with `cp`.
///
/// # Errors
/// I/O failures of the write, fsync or rename.
pub(crate) fn store(dir: &Path, cp: &Checkpoint) -> Result<(), DelayStoreError> {
    let mut body = Vec::with_capacity(BODY_LEN);
    body.extend_from_slice(&cp.replay_offset.to_be_bytes());
    body.extend_from_slice(&cp.sequence_limit.to_be_bytes());
    body.extend_from_slice(&cp.bucket_len_ms.to_be_bytes());
    let mut out = Vec::new();
    frame::encode(CHECKPOINT_MAGIC, &body, &mut out);

    let tmp = dir.join("checkpoint.tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| DelayStoreError::io("create", &tmp, e))?;
    f.write_all(&out)
        .map_err(|e| DelayStoreError::io("write", &tmp, e))?;
    f.sync_all()
        .map_err(|e| DelayStoreError::io("fsync", &tmp, e))?;
    let dst = path(dir);
    std::fs::rename(&tmp, &dst).map_err(|e| DelayStoreError::io("rename", &dst, e))?;
    sync_dir(dir)
}

/// Fsyncs a directory so that creates, renames and deletes in it are durable.
///
/// # Errors
/// I/O failures of the open or fsync.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), DelayStoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DelayStoreError::io("fsync dir", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_roundtrips_and_missing_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("load"), None);
        let cp = Checkpoint {
            replay_offset: 12345,
            sequence_limit: 1 << 40,
            bucket_len_ms: 3_600_000,
        };
        store(dir.path(), &cp).expect("store");
        assert_eq!(load(dir.path()).expect("load"), Some(cp));
    }

    #[test]
    fn advance_never_moves_a_field_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let start = Checkpoint {
            replay_offset: 10,
            sequence_limit: 100,
            bucket_len_ms: 60_000,
        };
        let cp = CheckpointFile::new(dir.path(), start);
        cp.advance(50, 0).expect("advance offset");
        cp.advance(0, 200).expect("advance limit");
        let want = Checkpoint {
            replay_offset: 50,
            sequence_limit: 200,
            bucket_len_ms: 60_000,
        };
        assert_eq!(cp.current(), want);
        assert_eq!(load(dir.path()).expect("load"), Some(want));
    }

    #[test]
    fn damaged_checkpoint_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cp = Checkpoint {
            replay_offset: 1,
            sequence_limit: 2,
            bucket_len_ms: 60_000,
        };
        store(dir.path(), &cp).expect("store");
        let p = path(dir.path());
        let mut bytes = std::fs::read(&p).expect("read");
        if let Some(b) = bytes.last_mut() {
            *b ^= 1;
        }
        std::fs::write(&p, bytes).expect("write");
        assert!(matches!(
            load(dir.path()),
            Err(DelayStoreError::Corrupt { .. })
        ));
    }
}
