//! The consume log of one subject: unit `n` locates the subject's message with sequence `n` in
//! the message log (QMQ consumer log v1, spec §11).
//!
//! ```text
//! i64 append time (epoch ms)
//! i64 message-log offset of the record
//! i32 record size (header + payload)
//! i16 record header size
//! ```
//! The consume log is derived data: recovery rewrites it from the message log.

use std::path::Path;

use super::error::StoreError;
use super::mmap::SyncHandle;
use super::unit_log::UnitLog;

/// Bytes per consume-log unit.
pub(crate) const UNIT: usize = 22;

/// One consume-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConsumeUnit {
    pub time: i64,
    pub offset: u64,
    pub size: u32,
    pub header_len: u16,
}

impl ConsumeUnit {
    fn encode(&self) -> [u8; UNIT] {
        let mut out = [0u8; UNIT];
        out[0..8].copy_from_slice(&self.time.to_be_bytes());
        out[8..16].copy_from_slice(&self.offset.to_be_bytes());
        out[16..20].copy_from_slice(&self.size.to_be_bytes());
        out[20..22].copy_from_slice(&self.header_len.to_be_bytes());
        out
    }

    fn decode(b: &[u8; UNIT]) -> Option<Self> {
        let unit = ConsumeUnit {
            time: i64::from_be_bytes(b[0..8].try_into().ok()?),
            offset: u64::from_be_bytes(b[8..16].try_into().ok()?),
            size: u32::from_be_bytes(b[16..20].try_into().ok()?),
            header_len: u16::from_be_bytes(b[20..22].try_into().ok()?),
        };
        (unit.size > 0).then_some(unit)
    }
}

/// The consume log of one subject.
#[derive(Debug)]
pub(crate) struct ConsumeLog {
    units: UnitLog<UNIT>,
}

impl ConsumeLog {
    pub(crate) fn open(dir: &Path, units_per_segment: u64) -> Result<Self, StoreError> {
        Ok(ConsumeLog {
            units: UnitLog::open(dir, units_per_segment)?,
        })
    }

    /// Writes the unit for `sequence`.
    pub(crate) fn write(&mut self, sequence: u64, unit: ConsumeUnit) -> Result<(), StoreError> {
        self.units.write(sequence, &unit.encode())
    }

    /// The unit for `sequence`, `None` if absent or deleted.
    pub(crate) fn read(&self, sequence: u64) -> Option<ConsumeUnit> {
        ConsumeUnit::decode(&self.units.read(sequence)?)
    }

    /// Next sequence to be assigned.
    pub(crate) fn next(&self) -> u64 {
        self.units.next()
    }

    /// Oldest retained sequence.
    pub(crate) fn min_sequence(&self) -> u64 {
        self.units.min_index()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_roundtrip_and_empty_unit_is_none() {
        let unit = ConsumeUnit {
            time: 1,
            offset: 2,
            size: 3,
            header_len: 4,
        };
        assert_eq!(ConsumeUnit::decode(&unit.encode()), Some(unit));
        assert_eq!(ConsumeUnit::decode(&[0; UNIT]), None);
    }

    #[test]
    fn truncate_drops_units_beyond_next() {
        let dir = tempfile::tempdir().unwrap();
        let unit = ConsumeUnit {
            time: 9,
            offset: 0,
            size: 40,
            header_len: 36,
        };
        {
            let mut log = ConsumeLog::open(dir.path(), 4).unwrap();
            for seq in 0..10 {
                log.write(seq, unit).unwrap();
            }
        }
        let mut log = ConsumeLog::open(dir.path(), 4).unwrap();
        log.truncate(5).unwrap();
        assert_eq!(log.next(), 5);
        assert_eq!(log.read(4), Some(unit));
        assert_eq!(log.read(5), None);
        log.truncate(10).unwrap();
        assert_eq!(
            log.read(5),
            None,
            "units after the truncation point are zero"
        );
    }
}
