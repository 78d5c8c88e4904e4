//! The message log: every message of every subject, appended in arrival order into preallocated
//! mmapped segments (see [`record`] for the layout).
//!
//! Invariants:
//! - records are appended at `write_offset` only; a record never spans two segments (the rest of
//!   a segment that cannot hold the next record gets an end-of-segment filler);
//! - every stored record's CRC-32 matches its payload, so recovery can tell a torn tail from data;
//! - global offsets only grow; a segment is named by the global offset of its first byte.

pub(crate) mod record;

use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::mmap::SyncHandle;
use super::scan::{self, Step};
use super::segments::SegmentSet;
use record::{Decoded, RecordView};

/// Where an appended record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub offset: u64,
    pub size: u32,
    pub header_len: u16,
}

/// The broker-wide message log.
#[derive(Debug)]
pub(crate) struct MessageLog {
    set: SegmentSet,
    write_offset: u64,
}

impl MessageLog {
    /// Opens the log in `dir`, validating every record from `start` (the checkpointed offset) on,
    /// handing each valid record and its offset to `visit`, and truncating a torn tail.
    ///
    /// # Errors
    /// Corruption followed by data ([`StoreError::Corrupt`]), I/O errors, or an error from `visit`.
    pub(crate) fn open(
        dir: &Path,
        segment_size: u64,
        start: u64,
        mut visit: impl FnMut(&RecordView<'_>, u64) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let mut set = SegmentSet::open(dir, segment_size)?;
        let write_offset =
            scan::recover(
                &mut set,
                start,
                "message_log",
                |bytes, pos| match record::decode(bytes) {
                    Decoded::Message(view) => {
                        visit(&view, pos)?;
                        Ok(Step::Record(view.total_len() as u64))
                    }
                    Decoded::Other(step) => Ok(step),
                },
            )?;
        Ok(MessageLog { set, write_offset })
    }

    /// Global offset at which the next record goes.
    pub(crate) fn write_offset(&self) -> u64 {
        self.write_offset
    }

    /// Offset of the oldest retained byte.
    pub(crate) fn min_offset(&self) -> u64 {
        self.set.first().map_or(self.write_offset, |s| s.base())
    }

    /// Appends one message record.
    ///
    /// # Errors
    /// [`StoreError::RecordTooLarge`] if the record cannot fit in a segment; I/O errors creating
    /// a segment.
    pub(crate) fn append(
        &mut self,
        time: i64,
        sequence: i64,
        subject: &str,
        crc: i64,
        payload: &[u8],
    ) -> Result<Placement, StoreError> {
        let header_len = record::header_len(subject.len());
        let total = header_len + payload.len();
        let segment_size = self.set.segment_size();
        let too_large = StoreError::RecordTooLarge {
            size: total as u64,
            segment_size,
        };
        if total as u64 > segment_size || u16::try_from(header_len).is_err() {
            return Err(too_large);
        }
        let size = u32::try_from(total).map_err(|_| too_large)?;
        let mut segment = self.set.find_or_create(self.write_offset)?;
        let mut local = (self.write_offset - segment.base()) as usize;
        if local + total > segment.len() as usize {
            if let Some(rest) = segment.bytes_mut().get_mut(local..) {
                record::encode_filler(rest);
            }
            self.write_offset = segment.end();
            segment = self.set.find_or_create(self.write_offset)?;
            local = (self.write_offset - segment.base()) as usize;
        }
        let path = segment.path().to_path_buf();
        let Some(dst) = segment.bytes_mut().get_mut(local..local + total) else {
            return Err(StoreError::Corrupt {
                path,
                offset: local as u64,
                reason: "segment shorter than the configured segment size",
            });
        };
        record::encode(dst, time, sequence, subject, crc, payload);
        let offset = self.write_offset;
        self.write_offset += total as u64;
        Ok(Placement {
            offset,
            size,
            header_len: header_len as u16,
        })
    }

    /// The record stored at `offset` with total length `size`, validated (magic and CRC); `None`
    /// if that part of the log was deleted or does not hold a valid message record.
    pub(crate) fn read(&self, offset: u64, size: u32) -> Option<RecordView<'_>> {
        let segment = self.set.find(offset)?;
        let local = (offset - segment.base()) as usize;
        let bytes = segment.bytes().get(local..local + size as usize)?;
        match record::decode(bytes) {
            Decoded::Message(view) if view.total_len() == size as usize => Some(view),
            _ => None,
        }
    }

    /// Handles to `fdatasync` every segment that may hold bytes in `[from, to)`.
    pub(crate) fn sync_handles(&self, from: u64, to: u64) -> Vec<SyncHandle> {
        self.set.sync_handles(from, to)
    }

    /// The segment set, for retention.
    pub(crate) fn segments(&self) -> &SegmentSet {
        &self.set
    }

    /// Forgets the segment at `base` and returns its path for the caller to delete; refuses
    /// (returns `None`) the segment holding the write position and the newest segment.
    pub(crate) fn detach_segment(&mut self, base: u64) -> Option<PathBuf> {
        let active = self.set.find(self.write_offset).map(|s| s.base());
        let newest = self.set.last().map(|s| s.base());
        if active == Some(base) || newest == Some(base) {
            return None;
        }
        self.set.detach(base)
    }
}
