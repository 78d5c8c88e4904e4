//! The pull log of one (consumer id, group, subject): unit `n` (8 bytes, i64 big-endian) holds
//! the consume-log sequence of the message handed out with pull offset `n` (spec §11).
//!
//! Derived data: recovery rewrites it from the PULL actions of the action log.

use std::path::Path;

use super::error::StoreError;
use super::mmap::SyncHandle;
use super::unit_log::UnitLog;

/// Bytes per pull-log unit.
pub(crate) const UNIT: usize = 8;

#[derive(Debug)]
pub(crate) struct PullLog {
    units: UnitLog<UNIT>,
}

impl PullLog {
    pub(crate) fn open(dir: &Path, units_per_segment: u64) -> Result<Self, StoreError> {
        Ok(PullLog {
            units: UnitLog::open(dir, units_per_segment)?,
        })
    }

    /// Records that pull offset `pull_seq` handed out consume-log sequence `message_seq`.
    pub(crate) fn write(&mut self, pull_seq: u64, message_seq: u64) -> Result<(), StoreError> {
        self.units.write(pull_seq, &message_seq.to_be_bytes())
    }

    /// The consume-log sequence at pull offset `pull_seq`.
    pub(crate) fn read(&self, pull_seq: u64) -> Option<u64> {
        self.units.read(pull_seq).map(u64::from_be_bytes)
    }

    pub(crate) fn truncate(&mut self, next: u64) -> Result<(), StoreError> {
        self.units.truncate(next)
    }

    pub(crate) fn sync_handles(&self) -> Vec<SyncHandle> {
        self.units.sync_handles()
    }

    pub(crate) fn units(&self) -> &UnitLog<UNIT> {
        &self.units
    }

    pub(crate) fn units_mut(&mut self) -> &mut UnitLog<UNIT> {
        &mut self.units
    }
}
