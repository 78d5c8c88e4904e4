//! Ack-range bookkeeping of one pull entry (spec §5), without I/O.
//!
//! Every pulled message occupies a slot keyed by its pull offset. A slot is `Pending` until the
//! message is completed (handled successfully, or failed *and* sent back for retry), then
//! `Done`. Offsets the broker skipped between two batches are `Gap` slots: they are never
//! acked by us, so the broker sees a gap and (for non-broadcast consumers) moves those
//! messages to the retry subject itself.
//!
//! Invariants:
//! * slots cover `[first, first + len)` contiguously, in pull-offset order;
//! * an ack range is always a run of `Done` slots starting at the oldest non-gap slot — the
//!   contiguous completed prefix — so a failure is never acked before its send-back finished;
//! * at most one ack range is in flight; its slots stay (and keep counting as "not yet acked"
//!   in the next PULL's `pullOffsetBegin`) until the broker confirmed it;
//! * a slot is completed at most once: [`AckTracker::complete`] reports whether it changed.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pending,
    Done,
    Gap,
}

/// The pull offsets of one (broker group, pulled subject, group).
#[derive(Debug)]
pub(crate) struct AckTracker {
    slots: VecDeque<Slot>,
    /// Pull offset of `slots[0]`.
    first: i64,
    /// Largest pull offset received, −1 if none.
    last_pulled: i64,
    /// The range sent and not yet confirmed.
    in_flight: Option<(i64, i64)>,
}

impl Default for AckTracker {
    fn default() -> Self {
        Self {
            slots: VecDeque::new(),
            first: 0,
            last_pulled: -1,
            in_flight: None,
        }
    }
}

impl AckTracker {
    /// Registers a batch of `count` messages starting at pull offset `first_offset` and returns
    /// the indexes (into the batch) of the messages that are new; messages at offsets already
    /// known are duplicates of an earlier batch and must not be delivered again.
    pub(crate) fn on_pulled(&mut self, first_offset: i64, count: usize) -> std::ops::Range<usize> {
        if count == 0 || first_offset < 0 {
            return 0..0;
        }
        let last = first_offset.saturating_add(count as i64 - 1);
        if last <= self.last_pulled {
            return 0..0;
        }
        let skip = if first_offset <= self.last_pulled {
            (self.last_pulled - first_offset + 1) as usize
        } else {
            0
        };
        let new_first = first_offset + skip as i64;
        if self.slots.is_empty() {
            self.first = new_first;
        } else {
            let expected = self.first + self.slots.len() as i64;
            // Offsets the broker never sent us: leave them to the broker's gap handling.
            for _ in expected..new_first {
                self.slots.push_back(Slot::Gap);
            }
        }
        for _ in skip..count {
            self.slots.push_back(Slot::Pending);
        }
        self.last_pulled = last;
        skip..count
    }

    /// Marks `offset` completed. Returns `false` if it was not pending (unknown, already
    /// completed, or already acked).
    pub(crate) fn complete(&mut self, offset: i64) -> bool {
        let Some(i) = self.index(offset) else {
            return false;
        };
        match self.slots.get_mut(i) {
            Some(slot @ Slot::Pending) => {
                *slot = Slot::Done;
                true
            }
            _ => false,
        }
    }

    /// The next range to ack, if no ack is in flight and the completed prefix is non-empty; the
    /// range is then in flight until [`AckTracker::acked`] or [`AckTracker::ack_failed`].
    pub(crate) fn next_ack(&mut self) -> Option<(i64, i64)> {
        if self.in_flight.is_some() {
            return None;
        }
        self.drop_leading_gaps();
        let done = self.slots.iter().take_while(|s| **s == Slot::Done).count();
        if done == 0 {
            return None;
        }
        let range = (self.first, self.first + done as i64 - 1);
        self.in_flight = Some(range);
        Some(range)
    }

    /// The broker confirmed the in-flight range: its slots are released.
    pub(crate) fn acked(&mut self, range: (i64, i64)) {
        if self.in_flight != Some(range) {
            return;
        }
        self.in_flight = None;
        let n = (range.1 - range.0 + 1).max(0) as usize;
        for _ in 0..n.min(self.slots.len()) {
            self.slots.pop_front();
        }
        self.first = range.1 + 1;
        self.drop_leading_gaps();
    }

    /// The in-flight ack failed; the next [`AckTracker::next_ack`] sends it again (possibly
    /// extended).
    pub(crate) fn ack_failed(&mut self, range: (i64, i64)) {
        if self.in_flight == Some(range) {
            self.in_flight = None;
        }
    }

    /// `(pullOffsetBegin, pullOffsetLast)` for the next PULL: the oldest offset not yet acked
    /// (−1 if none) and the newest offset received (−1 if none).
    pub(crate) fn pull_offsets(&self) -> (i64, i64) {
        let begin = self
            .slots
            .iter()
            .position(|s| *s != Slot::Gap)
            .map_or(-1, |i| self.first + i as i64);
        (begin, self.last_pulled)
    }

    /// Slots not yet acked (pending, done-but-unacked and gaps).
    pub(crate) fn unacked(&self) -> usize {
        self.slots.len()
    }

    fn index(&self, offset: i64) -> Option<usize> {
        let i = offset.checked_sub(self.first)?;
        usize::try_from(i).ok().filter(|i| *i < self.slots.len())
    }

    fn drop_leading_gaps(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        while self.slots.front() == Some(&Slot::Gap) {
            self.slots.pop_front();
            self.first += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_only_the_contiguous_completed_prefix() {
        let mut t = AckTracker::default();
        assert_eq!(t.pull_offsets(), (-1, -1));
        assert_eq!(t.on_pulled(10, 5), 0..5);
        assert_eq!(t.pull_offsets(), (10, 14));
        assert!(t.complete(11));
        assert!(t.complete(12));
        assert_eq!(t.next_ack(), None, "10 is still pending");
        assert!(t.complete(10));
        assert_eq!(t.next_ack(), Some((10, 12)));
        assert!(t.complete(13));
        assert_eq!(t.next_ack(), None, "one ack in flight");
        assert_eq!(
            t.pull_offsets(),
            (10, 14),
            "in-flight range is not acked yet"
        );
        t.acked((10, 12));
        assert_eq!(t.pull_offsets(), (13, 14));
        assert_eq!(t.next_ack(), Some((13, 13)));
        t.acked((13, 13));
        assert_eq!(t.unacked(), 1);
    }

    #[test]
    fn completion_happens_once() {
        let mut t = AckTracker::default();
        t.on_pulled(0, 2);
        assert!(t.complete(0));
        assert!(!t.complete(0));
        assert!(!t.complete(7), "unknown offset");
        assert!(!t.complete(-1));
        let r = t.next_ack().unwrap();
        t.acked(r);
        assert!(!t.complete(0), "acked offsets are gone");
    }

    #[test]
    fn failed_ack_is_resent_and_may_grow() {
        let mut t = AckTracker::default();
        t.on_pulled(0, 3);
        t.complete(0);
        let r = t.next_ack().unwrap();
        assert_eq!(r, (0, 0));
        t.complete(1);
        t.ack_failed(r);
        assert_eq!(t.next_ack(), Some((0, 1)));
    }

    #[test]
    fn gaps_between_batches_are_never_acked() {
        let mut t = AckTracker::default();
        t.on_pulled(0, 2);
        assert_eq!(t.on_pulled(5, 2), 0..2);
        for o in [0, 1, 5, 6] {
            assert!(t.complete(o));
        }
        assert_eq!(t.next_ack(), Some((0, 1)));
        t.acked((0, 1));
        assert_eq!(t.pull_offsets(), (5, 6));
        assert_eq!(
            t.next_ack(),
            Some((5, 6)),
            "the gap 2..=4 is left to the broker"
        );
        t.acked((5, 6));
        assert_eq!(t.unacked(), 0);
        assert_eq!(t.pull_offsets(), (-1, 6));
    }

    #[test]
    fn overlapping_batches_deliver_only_new_offsets() {
        let mut t = AckTracker::default();
        t.on_pulled(0, 3);
        assert_eq!(t.on_pulled(1, 4), 2..4, "offsets 1 and 2 are known");
        assert_eq!(t.on_pulled(0, 2), 0..0);
        assert_eq!(t.pull_offsets(), (0, 4));
        assert_eq!(t.unacked(), 5);
    }
}
