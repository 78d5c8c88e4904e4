//! Crash recovery shared by the append-only logs (message log, action log).
//!
//! The policy is "tolerate a corrupt tail": the first invalid record in the newest written segment
//! marks where a crash cut the log, so everything from it on is zeroed (with a `warn!`) and the log
//! continues there. An invalid record with more data in a later segment cannot be a torn write; it
//! is reported as [`StoreError::Corrupt`] naming the file and offset, and no data is dropped.
//! Whole segments are never deleted, except trailing segments that hold no data at all.

use tracing::warn;

use super::error::StoreError;
use super::segments::SegmentSet;

/// What a log's parser found at one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// A valid record of this many bytes (already handed to the visitor).
    Record(u64),
    /// The rest of the segment is filler; continue with the next segment.
    EndOfSegment,
    /// Zero bytes: nothing was ever written here.
    End,
    /// Invalid bytes.
    Corrupt(&'static str),
}

/// How many bytes after the end of the data are checked for leftovers of a torn write.
const GARBAGE_WINDOW: usize = 4096;

/// Scans `set` from global offset `start`, calling `parse` with the bytes from each position to
/// the end of its segment. Returns the global offset at which the next record must be written.
///
/// # Errors
/// [`StoreError::Corrupt`] for corruption followed by data in a later segment, or a missing
/// segment in the middle of the log; I/O errors while truncating.
pub(crate) fn recover(
    set: &mut SegmentSet,
    start: u64,
    log: &'static str,
    mut parse: impl FnMut(&[u8], u64) -> Result<Step, StoreError>,
) -> Result<u64, StoreError> {
    let bases = set.bases();
    let (Some(&first), Some(last)) = (bases.first(), set.last()) else {
        return Ok(start);
    };
    let last_end = last.end();
    let mut pos = start.max(first);
    if pos >= last_end {
        return Ok(pos);
    }
    let Some(start_idx) = bases
        .iter()
        .rposition(|&b| b <= pos)
        .filter(|&i| set.find(pos).is_some_and(|s| s.base() == bases[i]))
    else {
        return Err(StoreError::Corrupt {
            path: set.dir().to_path_buf(),
            offset: pos,
            reason: "no segment holds the recovery start offset",
        });
    };

    for idx in start_idx..bases.len() {
        let base = bases[idx];
        let Some(segment) = set.find(base) else {
            continue;
        };
        pos = pos.max(base);
        let seg_end = segment.end();
        loop {
            let local = (pos - base) as usize;
            let rest = segment.bytes().get(local..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
            match parse(rest, pos)? {
                Step::Record(len) => pos += len,
                Step::EndOfSegment => break,
                Step::End => {
                    if later_segments_hold_data(set, &bases[idx + 1..]) {
                        // A never-written gap before the next segment: the writer rolled over.
                        break;
                    }
                    let dirty = rest.iter().take(GARBAGE_WINDOW).any(|&b| b != 0);
                    return finish_at(set, &bases[idx + 1..], base, pos, log, dirty, "zero magic");
                }
                Step::Corrupt(reason) => {
                    if later_segments_hold_data(set, &bases[idx + 1..]) {
                        return Err(StoreError::Corrupt {
                            path: segment.path().to_path_buf(),
                            offset: pos - base,
                            reason,
                        });
                    }
                    return finish_at(set, &bases[idx + 1..], base, pos, log, true, reason);
                }
            }
        }
        pos = seg_end;
    }
    Ok(pos)
}

fn later_segments_hold_data(set: &SegmentSet, later: &[u64]) -> bool {
    later.iter().any(|&b| {
        set.find(b)
            .is_some_and(|s| s.bytes().iter().take(64).any(|&x| x != 0))
    })
}

fn finish_at(
    set: &mut SegmentSet,
    later: &[u64],
    base: u64,
    pos: u64,
    log: &'static str,
    truncate: bool,
    reason: &'static str,
) -> Result<u64, StoreError> {
    if truncate {
        if let Some(segment) = set.get_mut(base) {
            let file = segment.path().display().to_string();
            let offset = pos - base;
            warn!(log, file, offset, reason, "torn tail truncated");
            segment.zero_from(offset)?;
        }
    }
    // Later segments hold nothing (checked by the caller); drop them so the writer's next
    // rollover recreates them in order.
    for &b in later {
        set.remove(b)?;
    }
    Ok(pos)
}
