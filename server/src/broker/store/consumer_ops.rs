//! Recording what consumers were handed (PULL) and what they acknowledged (RANGE_ACK), and
//! reading consumer progress and pull logs back.
//!
//! Every change goes to the action log first, then to the pull log and the in-memory progress,
//! under the `actions` lock, so progress always equals "checkpoint + replayed actions".

use std::collections::hash_map::Entry;
use std::sync::atomic::Ordering;

use super::error::StoreError;
use super::progress::{ConsumerProgress, GroupProgress};
use super::pull_log::PullLog;
use super::{
    Action, ActionState, PULL_LOG_DIR, PullAction, RangeAckAction, Store, lock, now_millis,
    pull_key, pull_log_path, write_pull_run,
};

impl Store {
    /// Records that `consumer_id` of `group` was handed the messages with consume-log sequences
    /// `message_seqs` (ascending), at pull offsets `first_pull_seq ..` (for broadcast the pull
    /// offsets are the message sequences and `first_pull_seq` is ignored). One PULL action is
    /// logged per run of consecutive sequences, so tag-filtered gaps are represented exactly.
    ///
    /// # Errors
    /// Invalid names, [`StoreError::Poisoned`], I/O errors.
    pub fn record_pull(
        &self,
        subject: &str,
        group: &str,
        consumer_id: &str,
        broadcast: bool,
        first_pull_seq: i64,
        message_seqs: &[i64],
    ) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let timestamp = now_millis();
        let mut state = lock(&self.actions)?;
        let mut pull_seq = first_pull_seq;
        let mut rest = message_seqs;
        while let Some(&first) = rest.first() {
            let run = rest.windows(2).take_while(|w| w[1] == w[0] + 1).count() + 1;
            let last = first + run as i64 - 1;
            let (first_pull, last_pull) = if broadcast {
                (first, last)
            } else {
                (pull_seq, pull_seq + run as i64 - 1)
            };
            let action = PullAction {
                subject: subject.to_owned(),
                group: group.to_owned(),
                consumer_id: consumer_id.to_owned(),
                timestamp,
                broadcast,
                first_pull_seq: first_pull,
                last_pull_seq: last_pull,
                first_msg_seq: first,
                last_msg_seq: last,
            };
            self.apply_action(&mut state, Action::Pull(action))?;
            pull_seq += run as i64;
            rest = rest.get(run..).unwrap_or_default();
        }
        Ok(())
    }

    /// Records that `consumer_id` acknowledged pull offsets `first..=last`.
    ///
    /// # Errors
    /// Invalid names, [`StoreError::Poisoned`], I/O errors.
    pub fn record_ack(
        &self,
        subject: &str,
        group: &str,
        consumer_id: &str,
        first: i64,
        last: i64,
    ) -> Result<(), StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        let action = RangeAckAction {
            subject: subject.to_owned(),
            group: group.to_owned(),
            consumer_id: consumer_id.to_owned(),
            timestamp: now_millis(),
            first,
            last,
        };
        let mut state = lock(&self.actions)?;
        self.apply_action(&mut state, Action::RangeAck(action))
    }

    fn apply_action(&self, state: &mut ActionState, action: Action) -> Result<(), StoreError> {
        if let Action::Pull(p) = &action {
            if !p.broadcast {
                // Validate (and create) the pull log before logging the action, so a bad name
                // never reaches the action log.
                self.pull_log_mut(state, &p.consumer_id, &p.group, &p.subject)?;
            }
        }
        state.log.append(&action)?;
        if let Action::Pull(p) = &action {
            if !p.broadcast {
                let log = self.pull_log_mut(state, &p.consumer_id, &p.group, &p.subject)?;
                write_pull_run(log, p)?;
            }
        }
        state.progress.apply(&action);
        Ok(())
    }

    fn pull_log_mut<'a>(
        &self,
        state: &'a mut ActionState,
        consumer_id: &str,
        group: &str,
        subject: &str,
    ) -> Result<&'a mut PullLog, StoreError> {
        match state.pull_logs.entry(pull_key(consumer_id, group, subject)) {
            Entry::Occupied(e) => Ok(e.into_mut()),
            Entry::Vacant(e) => {
                let path = pull_log_path(&self.dir.join(PULL_LOG_DIR), e.key())?;
                let log = PullLog::open(&path, self.config.pull_log_units_per_segment)?;
                Ok(e.insert(log))
            }
        }
    }

    /// Consume-log sequences at pull offsets `from ..` of one consumer: a contiguous run of at
    /// most `max`, stopping at the first offset not in the pull log.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn pull_log_read(
        &self,
        consumer_id: &str,
        group: &str,
        subject: &str,
        from: i64,
        max: usize,
    ) -> Result<Vec<i64>, StoreError> {
        let state = lock(&self.actions)?;
        let Ok(from) = u64::try_from(from) else {
            return Ok(Vec::new());
        };
        let key = pull_key(consumer_id, group, subject);
        let Some(log) = state.pull_logs.get(&key) else {
            return Ok(Vec::new());
        };
        Ok((from..from.saturating_add(max as u64))
            .map_while(|i| log.read(i))
            .map(|s| s as i64)
            .collect())
    }

    /// A copy of `group`'s progress on `subject`.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn group_progress(
        &self,
        subject: &str,
        group: &str,
    ) -> Result<Option<GroupProgress>, StoreError> {
        Ok(lock(&self.actions)?.progress.group(subject, group).cloned())
    }

    /// Progress of one consumer.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn consumer_progress(
        &self,
        subject: &str,
        group: &str,
        consumer_id: &str,
    ) -> Result<Option<ConsumerProgress>, StoreError> {
        Ok(lock(&self.actions)?
            .progress
            .consumer(subject, group, consumer_id))
    }

    /// Returns `group`'s progress on `subject`, creating it with cursor `initial_pull` (the
    /// group will take sequences from `initial_pull + 1`) if the group is new.
    ///
    /// When `consumer_id` is given, a new group is made durable at once by logging an empty PULL
    /// action (pull range `[0, -1]`, message range `[initial_pull + 1, initial_pull]`): replaying
    /// it recreates the group at the same cursor, so messages sent right after a consumer's first
    /// (empty) pull are not skipped after a crash. Without it the group is durable at the next
    /// checkpoint.
    ///
    /// # Errors
    /// I/O errors writing the action log, [`StoreError::Poisoned`].
    pub fn ensure_group(
        &self,
        subject: &str,
        group: &str,
        consumer_id: Option<&str>,
        broadcast: bool,
        initial_pull: i64,
    ) -> Result<GroupProgress, StoreError> {
        let mut state = lock(&self.actions)?;
        if let Some(progress) = state.progress.group(subject, group) {
            return Ok(progress.clone());
        }
        match consumer_id {
            Some(consumer_id) => {
                if self.poisoned.load(Ordering::Acquire) {
                    return Err(StoreError::Poisoned);
                }
                let marker = PullAction {
                    subject: subject.to_owned(),
                    group: group.to_owned(),
                    consumer_id: consumer_id.to_owned(),
                    timestamp: now_millis(),
                    broadcast,
                    first_pull_seq: 0,
                    last_pull_seq: -1,
                    first_msg_seq: initial_pull + 1,
                    last_msg_seq: initial_pull,
                };
                self.apply_action(&mut state, Action::Pull(marker))?;
                if let Some(progress) = state.progress.group_mut(subject, group) {
                    // A brand-new group starts exactly at `initial_pull`.
                    progress.pull = initial_pull;
                }
            }
            None => {
                let progress = GroupProgress::new(broadcast, initial_pull);
                state.progress.insert_group(subject, group, progress);
            }
        }
        Ok(state
            .progress
            .group(subject, group)
            .cloned()
            .unwrap_or_else(|| GroupProgress::new(broadcast, initial_pull)))
    }

    /// Moves `group`'s cursor on `subject` to `pull` (the next sequence taken is `pull + 1`).
    /// Used to skip filtered messages and to reset a group; not logged as an action, so it is
    /// durable at the next checkpoint (call [`Store::checkpoint`] to make it durable now).
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn set_group_pull(&self, subject: &str, group: &str, pull: i64) -> Result<(), StoreError> {
        let mut state = lock(&self.actions)?;
        if let Some(progress) = state.progress.group_mut(subject, group) {
            progress.pull = pull;
        }
        Ok(())
    }

    /// The groups known on `subject`, with their progress.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn subject_groups(
        &self,
        subject: &str,
    ) -> Result<Vec<(String, GroupProgress)>, StoreError> {
        let state = lock(&self.actions)?;
        Ok(state
            .progress
            .subject_groups(subject)
            .map(|groups| groups.iter().map(|(g, p)| (g.clone(), p.clone())).collect())
            .unwrap_or_default())
    }
}
