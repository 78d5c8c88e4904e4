//! The in-memory timer of loaded buckets: index entries ordered by delivery time.
//!
//! It is a binary min-heap keyed by (due time, sequence) rather than a slotted wheel: delivery is
//! exact to the millisecond (no tick quantisation), order among equal times follows arrival, and
//! insert/pop cost O(log n). The scheduler sleeps until the head is due, at most one tick.
//!
//! Invariants worth naming:
//! - Entries hold only where a message is on disk (bucket, offset, size), never its payload:
//!   32 bytes each, so 1 M loaded messages cost 32 MiB (plus heap slack).
//! - Only buckets inside the look-ahead window are here; later ones stay on disk.
//! - A sequence is in the wheel at most once; a popped entry is "in flight" until the dispatcher
//!   answers, then either recorded as dispatched or reinserted with a later due time.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::store::BucketId;

/// Where a pending message is, and when it is due.
#[derive(Debug, Clone, Copy)]
pub struct WheelEntry {
    /// Due time in ms since the epoch (the schedule time, or a retry time).
    pub due_ms: i64,
    /// The message's sequence.
    pub sequence: u64,
    /// Offset of its frame in the bucket's schedule log.
    pub offset: u64,
    /// Size of its frame.
    pub size: u32,
    /// Its bucket.
    pub bucket: BucketId,
}

impl WheelEntry {
    fn key(&self) -> (i64, u64) {
        (self.due_ms, self.sequence)
    }
}

impl PartialEq for WheelEntry {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for WheelEntry {}

impl PartialOrd for WheelEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for WheelEntry {
    /// Reversed, so that `BinaryHeap` pops the earliest entry first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Pending entries of the loaded buckets, earliest first.
#[derive(Debug, Default)]
pub struct TimingWheel {
    heap: BinaryHeap<WheelEntry>,
}

impl TimingWheel {
    /// An empty wheel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one entry.
    pub fn insert(&mut self, entry: WheelEntry) {
        self.heap.push(entry);
    }

    /// Adds many entries (a bucket being loaded).
    pub fn extend(&mut self, entries: impl IntoIterator<Item = WheelEntry>) {
        self.heap.extend(entries);
    }

    /// Due time of the earliest entry.
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|e| e.due_ms)
    }

    /// Moves up to `limit` entries due at or before `now_ms` into `out`, earliest first.
    pub fn pop_due(&mut self, now_ms: i64, limit: usize, out: &mut Vec<WheelEntry>) {
        while out.len() < limit {
            match self.heap.peek() {
                Some(e) if e.due_ms <= now_ms => {}
                _ => break,
            }
            if let Some(e) = self.heap.pop() {
                out.push(e);
            }
        }
        // Give memory back after a large bucket drained.
        let cap = self.heap.capacity();
        if cap > 4096 && self.heap.len() < cap / 4 {
            self.heap.shrink_to(self.heap.len() * 2);
        }
    }

    /// Number of pending entries.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Bytes held by the entry storage (capacity, not length).
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<WheelEntry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(due_ms: i64, sequence: u64) -> WheelEntry {
        WheelEntry {
            due_ms,
            sequence,
            offset: 0,
            size: 0,
            bucket: BucketId(0),
        }
    }

    #[test]
    fn index_entry_is_32_bytes() {
        assert_eq!(std::mem::size_of::<WheelEntry>(), 32);
    }

    #[test]
    fn pops_in_due_then_sequence_order_and_only_when_due() {
        let mut w = TimingWheel::new();
        w.extend([entry(30, 1), entry(10, 5), entry(10, 2), entry(20, 9)]);
        assert_eq!(w.next_due(), Some(10));
        let mut out = Vec::new();
        w.pop_due(9, 10, &mut out);
        assert!(out.is_empty());
        w.pop_due(20, 10, &mut out);
        let keys: Vec<_> = out.iter().map(|e| (e.due_ms, e.sequence)).collect();
        assert_eq!(keys, vec![(10, 2), (10, 5), (20, 9)]);
        out.clear();
        w.pop_due(i64::MAX, 10, &mut out);
        assert_eq!(out.len(), 1);
        assert!(w.is_empty());
    }

    #[test]
    fn pop_respects_the_limit() {
        let mut w = TimingWheel::new();
        w.extend((0..10).map(|i| entry(i, i as u64)));
        let mut out = Vec::new();
        w.pop_due(100, 3, &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(w.len(), 7);
    }
}
