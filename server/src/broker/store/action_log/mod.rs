//! The action log: every PULL and RANGE_ACK in the order the broker performed them. Consumer
//! progress and the pull logs are rebuilt from it after the last action checkpoint.
//!
//! Invariants: records are appended at `write_offset` only and never span segments; the
//! remainder of a segment that cannot hold the next record starts with a filler.

pub(crate) mod record;

use std::path::Path;

use super::error::StoreError;
use super::mmap::SyncHandle;
use super::scan::{self, Step};
use super::segments::SegmentSet;
use record::Action;

#[derive(Debug)]
pub(crate) struct ActionLog {
    set: SegmentSet,
    write_offset: u64,
}

impl ActionLog {
    /// Opens the log, replaying every record from `start` into `visit` and truncating a torn tail.
    pub(crate) fn open(
        dir: &Path,
        segment_size: u64,
        start: u64,
        mut visit: impl FnMut(Action) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let mut set = SegmentSet::open(dir, segment_size)?;
        let write_offset =
            scan::recover(
                &mut set,
                start,
                "action_log",
                |bytes, _pos| match record::decode(bytes) {
                    Ok((action, len)) => {
                        visit(action)?;
                        Ok(Step::Record(len as u64))
                    }
                    Err(step) => Ok(step),
                },
            )?;
        Ok(ActionLog { set, write_offset })
    }

    pub(crate) fn write_offset(&self) -> u64 {
        self.write_offset
    }

    /// Appends one action.
    pub(crate) fn append(&mut self, action: &Action) -> Result<u64, StoreError> {
        let bytes = action.encode();
        let segment_size = self.set.segment_size();
        if bytes.len() as u64 > segment_size {
            return Err(StoreError::RecordTooLarge {
                size: bytes.len() as u64,
                segment_size,
            });
        }
        let mut segment = self.set.find_or_create(self.write_offset)?;
        let mut local = (self.write_offset - segment.base()) as usize;
        if local + bytes.len() > segment.len() as usize {
            let filler = record::filler();
            if let Some(dst) = segment.bytes_mut().get_mut(local..local + filler.len()) {
                dst.copy_from_slice(&filler);
            }
            self.write_offset = segment.end();
            segment = self.set.find_or_create(self.write_offset)?;
            local = (self.write_offset - segment.base()) as usize;
        }
        let path = segment.path().to_path_buf();
        let Some(dst) = segment.bytes_mut().get_mut(local..local + bytes.len()) else {
            return Err(StoreError::Corrupt {
                path,
                offset: local as u64,
                reason: "segment shorter than the configured segment size",
            });
        };
        dst.copy_from_slice(&bytes);
        let offset = self.write_offset;
        self.write_offset += bytes.len() as u64;
        Ok(offset)
    }

    pub(crate) fn sync_handles(&self, from: u64, to: u64) -> Vec<SyncHandle> {
        self.set.sync_handles(from, to)
    }

    /// Deletes segments that end at or before `offset` (everything before the action
    /// checkpoint is no longer needed), never the segment being written.
    pub(crate) fn remove_before(&mut self, offset: u64) -> Result<(), StoreError> {
        let active = self.set.find(self.write_offset).map(|s| s.base());
        let last = self.set.last().map(|s| s.base());
        let doomed: Vec<u64> = self
            .set
            .iter()
            .filter(|s| s.end() <= offset && Some(s.base()) != active && Some(s.base()) != last)
            .map(|s| s.base())
            .collect();
        for base in doomed {
            self.set.remove(base)?;
        }
        Ok(())
    }
}
