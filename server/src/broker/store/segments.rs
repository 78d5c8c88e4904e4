//! A directory of segment files named by their base offset as 20-digit zero-padded decimals.
//!
//! Invariants:
//! - segments never overlap: each starts at or after the end of the previous one;
//! - files whose names are not 20 decimal digits are ignored (temporary files, foreign files);
//! - a created segment's directory entry is fsynced, so the file survives a crash.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::mmap::{MmapSegment, SyncHandle};

/// File name of the segment starting at `base`.
pub(crate) fn segment_name(base: u64) -> String {
    format!("{base:020}")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// Fsyncs a directory so that entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("sync dir", dir, e))
}

/// Creates a directory and its parents.
pub(crate) fn create_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(|e| StoreError::io("create dir", dir, e))
}

/// The segments of one log, ordered by base offset.
#[derive(Debug)]
pub(crate) struct SegmentSet {
    dir: PathBuf,
    segment_size: u64,
    segments: BTreeMap<u64, MmapSegment>,
}

impl SegmentSet {
    /// Maps every segment already in `dir` (creating `dir` if needed). New segments get
    /// `segment_size` bytes; existing ones keep the length they have.
    pub(crate) fn open(dir: &Path, segment_size: u64) -> Result<Self, StoreError> {
        create_dir(dir)?;
        let mut segments = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| StoreError::io("read dir", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("read dir", dir, e))?;
            let Some(base) = entry.file_name().to_str().and_then(parse_segment_name) else {
                continue;
            };
            let segment = MmapSegment::open(&entry.path(), base, 0)?;
            if segment.len() == 0 {
                continue;
            }
            segments.insert(base, segment);
        }
        Ok(SegmentSet {
            dir: dir.to_path_buf(),
            segment_size,
            segments,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn segment_size(&self) -> u64 {
        self.segment_size
    }

    /// The segment containing global offset `pos`.
    pub(crate) fn find(&self, pos: u64) -> Option<&MmapSegment> {
        // Appends almost always hit the newest segment: check it before searching.
        if let Some((_, last)) = self.segments.last_key_value() {
            if last.base() <= pos && pos < last.end() {
                return Some(last);
            }
        }
        self.segments
            .range(..=pos)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| pos < s.end())
    }

    /// The segment containing global offset `pos`, mutably.
    pub(crate) fn find_mut(&mut self, pos: u64) -> Option<&mut MmapSegment> {
        let newest = self
            .segments
            .last_key_value()
            .is_some_and(|(_, s)| s.base() <= pos && pos < s.end());
        if newest {
            return self.segments.values_mut().next_back();
        }
        self.segments
            .range_mut(..=pos)
            .next_back()
            .map(|(_, s)| s)
            .filter(|s| pos < s.end())
    }

    pub(crate) fn get_mut(&mut self, base: u64) -> Option<&mut MmapSegment> {
        self.segments.get_mut(&base)
    }

    pub(crate) fn first(&self) -> Option<&MmapSegment> {
        self.segments.values().next()
    }

    pub(crate) fn last(&self) -> Option<&MmapSegment> {
        self.segments.values().next_back()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &MmapSegment> {
        self.segments.values()
    }

    /// Base offsets of all segments, oldest first.
    pub(crate) fn bases(&self) -> Vec<u64> {
        self.segments.keys().copied().collect()
    }

    /// Creates (or reopens) the segment starting at `base`.
    pub(crate) fn create(&mut self, base: u64) -> Result<&mut MmapSegment, StoreError> {
        let path = self.dir.join(segment_name(base));
        let segment = MmapSegment::open(&path, base, self.segment_size)?;
        sync_dir(&self.dir)?;
        Ok(self.segments.entry(base).or_insert(segment))
    }

    /// The segment containing `pos`, creating it if no segment covers `pos`. A new segment starts
    /// at `pos` rounded down to a multiple of the segment size, or at the end of the segment
    /// before it if that is later (so that segments never overlap).
    pub(crate) fn find_or_create(&mut self, pos: u64) -> Result<&mut MmapSegment, StoreError> {
        if self.find(pos).is_none() {
            let aligned = pos - pos % self.segment_size.max(1);
            let prev_end = self
                .segments
                .range(..=pos)
                .next_back()
                .map_or(0, |(_, s)| s.end());
            let base = aligned.max(prev_end);
            let next_base = self.segments.range(pos..).next().map(|(b, _)| *b);
            if let Some(next) = next_base {
                if base + self.segment_size > next {
                    // Cannot happen with aligned segments; refuse rather than overlap.
                    return Err(StoreError::Corrupt {
                        path: self.dir.join(segment_name(next)),
                        offset: 0,
                        reason: "segment would overlap its successor",
                    });
                }
            }
            self.create(base)?;
        }
        let dir = self.dir.clone();
        self.find_mut(pos).ok_or(StoreError::Corrupt {
            path: dir,
            offset: pos,
            reason: "segment missing after creation",
        })
    }

    /// Deletes the segment starting at `base` (file and mapping).
    pub(crate) fn remove(&mut self, base: u64) -> Result<(), StoreError> {
        if let Some(segment) = self.segments.remove(&base) {
            let path = segment.path().to_path_buf();
            drop(segment);
            fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
        }
        Ok(())
    }

    /// Unmaps the segment at `base` and forgets it, returning the path of its file (for the
    /// caller to delete without holding the store lock).
    pub(crate) fn detach(&mut self, base: u64) -> Option<PathBuf> {
        self.segments.remove(&base).map(|s| s.path().to_path_buf())
    }

    /// Deletes every segment whose base is at or after `pos`.
    pub(crate) fn remove_from(&mut self, pos: u64) -> Result<(), StoreError> {
        let doomed: Vec<u64> = self.segments.range(pos..).map(|(b, _)| *b).collect();
        for base in doomed {
            self.remove(base)?;
        }
        Ok(())
    }

    /// Sync handles of the segments overlapping `[from, to)`.
    pub(crate) fn sync_handles(&self, from: u64, to: u64) -> Vec<SyncHandle> {
        self.segments
            .values()
            .filter(|s| s.end() > from && s.base() < to)
            .map(MmapSegment::sync_handle)
            .collect()
    }
}
