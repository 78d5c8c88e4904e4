//! Durability points of the delay store: fsync every log, then move the checkpoint.
//!
//! A sync is split in three so the fsyncs can run without the scheduler's lock:
//! [`DelayStore::begin_sync`] (under the lock: duplicate the descriptors of every unsynced file
//! and note the message-log end), [`SyncPlan::execute`] (no lock: fsync them, then write the
//! checkpoint) and [`DelayStore::finish_sync`] (under the lock: poison on failure, delete
//! message-log segments the checkpoint passed).
//!
//! Invariants worth naming:
//! - The checkpoint's replay offset is the message-log end noted in `begin_sync`; every
//!   schedule-log byte written before that point is in a file the plan fsyncs first.
//! - A failed fsync poisons the store (the kernel may have dropped the dirty pages).

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use super::checkpoint::CheckpointFile;
use super::{DelayStore, DelayStoreError};

/// Files to fsync and the checkpoint to write afterwards; see the module docs.
#[derive(Debug)]
#[must_use = "a sync plan does nothing until executed and finished"]
pub struct SyncPlan {
    files: Vec<(PathBuf, File)>,
    reopen: Vec<PathBuf>,
    replay_offset: u64,
    checkpoint: Arc<CheckpointFile>,
}

/// Outcome of [`SyncPlan::execute`], handed back to [`DelayStore::finish_sync`].
#[derive(Debug)]
pub struct SyncOutcome(Result<u64, DelayStoreError>);

impl From<DelayStoreError> for SyncOutcome {
    /// A plan that could not run (e.g. its thread died): finishing it poisons the store.
    fn from(e: DelayStoreError) -> Self {
        Self(Err(e))
    }
}

impl SyncPlan {
    /// Fsyncs every file of the plan, then writes the checkpoint. Blocking; call it from a
    /// blocking thread.
    pub fn execute(self) -> SyncOutcome {
        SyncOutcome(self.run())
    }

    fn run(self) -> Result<u64, DelayStoreError> {
        for (path, f) in &self.files {
            f.sync_data()
                .map_err(|e| DelayStoreError::io("fsync", path, e))?;
        }
        for path in &self.reopen {
            match File::open(path) {
                Ok(f) => f
                    .sync_data()
                    .map_err(|e| DelayStoreError::io("fsync", path, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(DelayStoreError::io("open", path, e)),
            }
        }
        self.checkpoint.advance(self.replay_offset, 0)?;
        Ok(self.replay_offset)
    }
}

impl DelayStore {
    /// Starts a sync: collects what must be fsynced. Cheap; no I/O beyond duplicating
    /// descriptors.
    ///
    /// # Errors
    /// [`DelayStoreError::Poisoned`], or a descriptor that cannot be duplicated (poisons).
    pub fn begin_sync(&mut self) -> Result<SyncPlan, DelayStoreError> {
        self.check_poison()?;
        let r = self.collect_sync();
        self.poison(r)
    }

    fn collect_sync(&mut self) -> Result<SyncPlan, DelayStoreError> {
        let mut files = Vec::new();
        files.extend(self.wal.sync_handle()?);
        for (log, _) in self.writers.values_mut() {
            files.extend(log.sync_handle()?);
        }
        for log in self.dispatch.values_mut() {
            files.extend(log.sync_handle()?);
        }
        let reopen = std::mem::take(&mut self.closed_dirty)
            .into_iter()
            .map(|id| self.sched_path(id))
            .collect();
        Ok(SyncPlan {
            files,
            reopen,
            replay_offset: self.wal.end_offset(),
            checkpoint: Arc::clone(&self.checkpoint),
        })
    }

    /// Completes a sync: poisons the store if it failed, else deletes message-log segments
    /// the checkpoint has passed.
    ///
    /// # Errors
    /// The failure of the plan, or of deleting a segment.
    pub fn finish_sync(&mut self, outcome: SyncOutcome) -> Result<(), DelayStoreError> {
        let offset = self.poison(outcome.0)?;
        self.wal.delete_before(offset)?;
        Ok(())
    }

    /// A whole sync in the caller's thread: [`Self::begin_sync`], [`SyncPlan::execute`],
    /// [`Self::finish_sync`].
    ///
    /// # Errors
    /// As those.
    pub fn sync(&mut self) -> Result<(), DelayStoreError> {
        let plan = self.begin_sync()?;
        self.finish_sync(plan.execute())
    }
}
