//! Pre-faulting the message log ahead of the writer.
//!
//! Segments are sparse files; the first write to each page through the mapping takes a fault
//! that allocates and zero-fills a page-cache page, which costs more than writing the records
//! themselves. A background thread reads the next [`WINDOW`] bytes after the write position
//! through the file (`pread` of a hole fills the page cache with zero pages), so the writer
//! only takes a cheap minor fault. Purely a performance measure: nothing depends on it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use super::error::StoreError;
use super::{Store, lock};

/// How far ahead of the write position pages are pre-faulted.
pub(crate) const WINDOW: u64 = 32 << 20;
const CHUNK: usize = 1 << 20;

/// Progress of the pre-faulter.
#[derive(Debug, Default)]
pub(crate) struct Prefaulter {
    done: u64,
    scratch: Vec<u8>,
}

impl Prefaulter {
    /// Pre-faults up to [`WINDOW`] bytes past the current write position.
    pub(crate) fn run(&mut self, store: &Store) -> Result<(), StoreError> {
        let plan: Vec<(u64, u64, Arc<File>)> = {
            let state = lock(&store.messages)?;
            let start = state.log.write_offset();
            let target = start + WINDOW;
            self.done = self.done.max(start);
            if self.done >= target {
                return Ok(());
            }
            let from = self.done;
            self.done = target;
            state
                .log
                .segments()
                .iter()
                .filter(|s| s.end() > from && s.base() < target)
                .map(|s| {
                    let lo = from.max(s.base()) - s.base();
                    let hi = target.min(s.end()) - s.base();
                    (lo, hi, s.file())
                })
                .collect()
        };
        self.scratch.resize(CHUNK, 0);
        for (lo, hi, file) in plan {
            let mut at = lo;
            while at < hi {
                let n = ((hi - at) as usize).min(CHUNK);
                let buf = self.scratch.get_mut(..n).unwrap_or_default();
                // Errors only cost performance here; the writer faults the page itself then.
                if file.read_at(buf, at).is_err() {
                    break;
                }
                at += n as u64;
            }
        }
        Ok(())
    }
}
