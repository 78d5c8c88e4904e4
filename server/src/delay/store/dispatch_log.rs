//! Dispatch logs (`dispatch_log/<bucket start>.disp`): the sequences of a bucket's messages that
//! a broker has confirmed.
//!
//! Frames are `frame.rs` frames with magic "QDD1"; a body is `n × u64` sequences (one frame per
//! confirmed batch, written with a single `write`).
//!
//! Invariants worth naming:
//! - A sequence is written only after the broker confirmed the message, so a crash can cause a
//!   re-send of what was in flight but never a loss.
//! - A torn tail is cut on open: its messages are re-sent (duplicates, not losses).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::DelayStoreError;
use super::frame::{self, DISPATCH_MAGIC};

/// An open dispatch log.
#[derive(Debug)]
pub(crate) struct DispatchLog {
    path: PathBuf,
    file: File,
    len: u64,
    synced_len: u64,
}

impl DispatchLog {
    /// Opens (or creates) `path`, cuts a torn tail, and returns the log with its sorted sequences.
    ///
    /// # Errors
    /// I/O failures and corruption in the middle of the file.
    pub(crate) fn open(path: &Path) -> Result<(Self, Vec<u64>), DelayStoreError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| DelayStoreError::io("open", path, e))?;
        let mut done = Vec::new();
        let scanned = frame::scan(&file, path, DISPATCH_MAGIC, 0, |offset, body| {
            if body.len() % 8 != 0 {
                return Err(DelayStoreError::Corrupt {
                    path: path.to_path_buf(),
                    offset,
                    reason: "dispatch record not a multiple of 8 bytes",
                });
            }
            done.extend(
                body.chunks_exact(8)
                    .filter_map(|c| c.try_into().ok().map(u64::from_be_bytes)),
            );
            Ok(())
        })?;
        frame::truncate_torn_tail(&file, path, scanned)?;
        done.sort_unstable();
        done.dedup();
        let len = scanned.end;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                len,
                synced_len: len,
            },
            done,
        ))
    }

    /// Records `sequences` as delivered, in one write.
    ///
    /// # Errors
    /// I/O failures of the write.
    pub(crate) fn append(&mut self, sequences: &[u64]) -> Result<(), DelayStoreError> {
        if sequences.is_empty() {
            return Ok(());
        }
        let mut body = Vec::with_capacity(sequences.len() * 8);
        for s in sequences {
            body.extend_from_slice(&s.to_be_bytes());
        }
        let mut out = Vec::with_capacity(frame::HEADER_LEN + body.len());
        frame::encode(DISPATCH_MAGIC, &body, &mut out);
        if let Err(e) = self.file.write_all(&out) {
            let _ = self.file.set_len(self.len);
            return Err(DelayStoreError::io("append", &self.path, e));
        }
        self.len += out.len() as u64;
        Ok(())
    }
}

impl DispatchLog {
    /// A second descriptor to fsync outside the store lock, if anything is unsynced.
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatched_sequences_survive_reopen_and_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.disp");
        let (mut log, done) = DispatchLog::open(&path).expect("open");
        assert!(done.is_empty());
        log.append(&[5, 3]).expect("append");
        log.append(&[9]).expect("append");
        drop(log);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&DISPATCH_MAGIC.to_be_bytes()).expect("torn");
        drop(f);
        let (_, done) = DispatchLog::open(&path).expect("reopen");
        assert_eq!(done, vec![3, 5, 9]);
    }
}
