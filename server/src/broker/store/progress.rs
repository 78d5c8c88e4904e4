//! Consumer progress: per subject and group, how far the group has taken messages from the
//! consume log, and per consumer how far it has pulled and acked in its pull log.
//!
//! The table is a pure function of the action log (plus explicit cursor moves that are
//! checkpointed immediately), which is what lets a restart rebuild it exactly.
//! Invariants: every sequence is `-1` ("none yet") or a valid sequence; `ack <= pull` is *not*
//! enforced (a client may ack beyond what this broker remembers after a crash).

use std::collections::BTreeMap;

use super::action_log::record::Action;

/// A consumer's position in its pull log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerProgress {
    /// Largest pull offset handed to the consumer, `-1` if none.
    pub pull: i64,
    /// Largest pull offset the consumer acked, `-1` if none.
    pub ack: i64,
}

impl Default for ConsumerProgress {
    fn default() -> Self {
        ConsumerProgress { pull: -1, ack: -1 }
    }
}

/// A consumer group's position on one subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProgress {
    /// Broadcast group (the group is a client id; pull offsets are consume-log sequences).
    pub broadcast: bool,
    /// Largest consume-log sequence the group has taken (the next one to take is `pull + 1`);
    /// `-1` if none.
    pub pull: i64,
    /// Per consumer id.
    pub consumers: BTreeMap<String, ConsumerProgress>,
}

impl GroupProgress {
    /// A group that will take messages starting at sequence `pull + 1`.
    pub fn new(broadcast: bool, pull: i64) -> Self {
        GroupProgress {
            broadcast,
            pull,
            consumers: BTreeMap::new(),
        }
    }
}

/// Progress of every (subject, group).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressTable {
    subjects: BTreeMap<String, BTreeMap<String, GroupProgress>>,
}

impl ProgressTable {
    /// Progress of `group` on `subject`.
    pub fn group(&self, subject: &str, group: &str) -> Option<&GroupProgress> {
        self.subjects.get(subject)?.get(group)
    }

    /// Progress of one consumer.
    pub fn consumer(
        &self,
        subject: &str,
        group: &str,
        consumer_id: &str,
    ) -> Option<ConsumerProgress> {
        self.group(subject, group)?
            .consumers
            .get(consumer_id)
            .copied()
    }

    /// Every (subject, group, progress).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &GroupProgress)> {
        self.subjects
            .iter()
            .flat_map(|(s, groups)| groups.iter().map(move |(g, p)| (s.as_str(), g.as_str(), p)))
    }

    /// The groups of one subject.
    pub(crate) fn subject_groups(&self, subject: &str) -> Option<&BTreeMap<String, GroupProgress>> {
        self.subjects.get(subject)
    }

    pub(crate) fn insert_group(&mut self, subject: &str, group: &str, progress: GroupProgress) {
        self.subjects
            .entry(subject.to_owned())
            .or_default()
            .insert(group.to_owned(), progress);
    }

    pub(crate) fn group_mut(&mut self, subject: &str, group: &str) -> Option<&mut GroupProgress> {
        self.subjects.get_mut(subject)?.get_mut(group)
    }

    fn group_entry(&mut self, subject: &str, group: &str, broadcast: bool) -> &mut GroupProgress {
        self.subjects
            .entry(subject.to_owned())
            .or_default()
            .entry(group.to_owned())
            .or_insert_with(|| GroupProgress::new(broadcast, -1))
    }

    /// Applies one action (used both live and on replay).
    pub(crate) fn apply(&mut self, action: &Action) {
        match action {
            Action::Pull(p) => {
                let group = self.group_entry(&p.subject, &p.group, p.broadcast);
                group.pull = group.pull.max(p.last_msg_seq);
                let consumer = group.consumers.entry(p.consumer_id.clone()).or_default();
                consumer.pull = consumer.pull.max(p.last_pull_seq);
            }
            Action::RangeAck(a) => {
                let group = self.group_entry(&a.subject, &a.group, false);
                let consumer = group.consumers.entry(a.consumer_id.clone()).or_default();
                consumer.ack = consumer.ack.max(a.last);
            }
            Action::ForeverOffline { .. } => {}
        }
    }

    /// Clamps every group cursor to `max_sequence(subject)` (after a crash lost messages that
    /// had already been pulled, new messages reuse those sequences and must not be skipped).
    pub(crate) fn clamp_cursors(&mut self, max_sequence: impl Fn(&str) -> i64) {
        for (subject, groups) in &mut self.subjects {
            let max = max_sequence(subject);
            for group in groups.values_mut() {
                group.pull = group.pull.min(max);
            }
        }
    }
}
