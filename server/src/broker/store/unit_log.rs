//! A log of fixed-size units: unit `n` lives at global byte `n * UNIT`, spread over segments of
//! `units_per_segment` units. Used by the consume logs and the pull logs.
//!
//! Invariants:
//! - `next` is the number of units written (index of the next append); units at or after `next`
//!   are zero on disk once [`UnitLog::truncate`] ran;
//! - the log does not know by itself where its data ends (a zero unit may be valid data, e.g.
//!   sequence 0 in a pull log): its owner derives `next` from the log it indexes and calls
//!   [`UnitLog::truncate`] after opening.

use std::path::Path;

use super::error::StoreError;
use super::mmap::SyncHandle;
use super::segments::SegmentSet;

#[derive(Debug)]
pub(crate) struct UnitLog<const UNIT: usize> {
    set: SegmentSet,
    next: u64,
}

impl<const UNIT: usize> UnitLog<UNIT> {
    /// Maps the segments in `dir`; `next` is 0 until the owner calls [`UnitLog::truncate`].
    pub(crate) fn open(dir: &Path, units_per_segment: u64) -> Result<Self, StoreError> {
        let set = SegmentSet::open(dir, units_per_segment.max(1) * UNIT as u64)?;
        Ok(UnitLog { set, next: 0 })
    }

    /// Index of the next unit to append.
    pub(crate) fn next(&self) -> u64 {
        self.next
    }

    /// Index of the oldest retained unit.
    pub(crate) fn min_index(&self) -> u64 {
        self.set
            .first()
            .map_or(self.next, |s| s.base().div_ceil(UNIT as u64).min(self.next))
    }

    /// Writes `unit` at index `idx` (overwriting on replay), extending `next` past it.
    pub(crate) fn write(&mut self, idx: u64, unit: &[u8; UNIT]) -> Result<(), StoreError> {
        let pos = idx * UNIT as u64;
        let segment = self.set.find_or_create(pos)?;
        let local = (pos - segment.base()) as usize;
        let path = segment.path().to_path_buf();
        let Some(dst) = segment.bytes_mut().get_mut(local..local + UNIT) else {
            return Err(StoreError::Corrupt {
                path,
                offset: local as u64,
                reason: "unit crosses the end of its segment",
            });
        };
        dst.copy_from_slice(unit);
        self.next = self.next.max(idx + 1);
        Ok(())
    }

    /// The unit at `idx`, or `None` if it was never written or its segment was deleted.
    pub(crate) fn read(&self, idx: u64) -> Option<[u8; UNIT]> {
        if idx >= self.next {
            return None;
        }
        let pos = idx * UNIT as u64;
        let segment = self.set.find(pos)?;
        let local = (pos - segment.base()) as usize;
        segment.bytes().get(local..local + UNIT)?.try_into().ok()
    }

    /// Sets the end of the log to `next`: zeroes leftovers after it in its segment and deletes
    /// later segments.
    pub(crate) fn truncate(&mut self, next: u64) -> Result<(), StoreError> {
        self.next = next;
        let pos = next * UNIT as u64;
        if let Some(segment) = self.set.find_mut(pos) {
            let local = (pos - segment.base()) as usize;
            let dirty = segment
                .bytes()
                .get(local..)
                .unwrap_or_default()
                .iter()
                .take(4096)
                .any(|&b| b != 0);
            if dirty {
                segment.zero_from(local as u64)?;
            }
            let end = segment.end();
            self.set.remove_from(end)?;
        } else {
            self.set.remove_from(pos)?;
        }
        Ok(())
    }

    /// Handles to `fdatasync` the whole log.
    pub(crate) fn sync_handles(&self) -> Vec<SyncHandle> {
        self.set.sync_handles(0, u64::MAX)
    }

    /// `(base, first index, last index + 1)` of every segment except the one `next` falls in
    /// (or the last one), oldest first: the candidates for retention.
    pub(crate) fn inactive_segments(&self) -> Vec<(u64, u64, u64)> {
        let active = self.next * UNIT as u64;
        let last = self.set.last().map(|s| s.base());
        self.set
            .iter()
            .filter(|s| s.end() <= active && Some(s.base()) != last)
            .map(|s| {
                (
                    s.base(),
                    s.base().div_ceil(UNIT as u64),
                    s.end() / UNIT as u64,
                )
            })
            .collect()
    }

    /// Deletes the segment starting at `base`.
    pub(crate) fn remove_segment(&mut self, base: u64) -> Result<(), StoreError> {
        self.set.remove(base)
    }
}
