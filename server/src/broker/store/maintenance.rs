//! Flushing, checkpointing, and the background thread that does both periodically.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tracing::{error, warn};

use super::checkpoint::{self, ActionCheckpoint, MessageCheckpoint};
use super::error::StoreError;
use super::mmap::SyncHandle;
use super::prefault::Prefaulter;
use super::{CHECKPOINT_DIR, FlushPolicy, Store, lock};

impl Store {
    /// Flushes the message log up to its current end. Concurrent callers share one flush: a
    /// caller whose data an earlier flush already covered returns at once.
    ///
    /// # Errors
    /// I/O errors; the store is then poisoned and refuses further writes.
    pub fn flush_messages(&self) -> Result<(), StoreError> {
        let mut marks = lock(&self.flush)?;
        let (handles, end) = {
            let state = lock(&self.messages)?;
            let end = state.log.write_offset();
            (state.log.sync_handles(marks.message, end), end)
        };
        if end <= marks.message {
            return Ok(());
        }
        self.sync_all(&handles)?;
        marks.message = end;
        Ok(())
    }

    /// Flushes the message log and the action log (the two logs everything else is rebuilt from).
    ///
    /// # Errors
    /// I/O errors; the store is then poisoned and refuses further writes.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.flush_messages()?;
        let mut marks = lock(&self.flush)?;
        let (handles, end) = {
            let state = lock(&self.actions)?;
            let end = state.log.write_offset();
            (state.log.sync_handles(marks.action, end), end)
        };
        if end > marks.action {
            self.sync_all(&handles)?;
            marks.action = end;
        }
        Ok(())
    }

    fn sync_all(&self, handles: &[SyncHandle]) -> Result<(), StoreError> {
        for handle in handles {
            if let Err(e) = handle.sync() {
                self.poisoned.store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes both checkpoints: snapshots the state, flushes every log up to the snapshot, then
    /// replaces the checkpoint files atomically. Also drops action-log segments that the new
    /// checkpoint made unnecessary.
    ///
    /// # Errors
    /// I/O errors.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let (message_cp, consume_handles) = {
            let state = lock(&self.messages)?;
            let cp = MessageCheckpoint {
                offset: state.log.write_offset(),
                max_sequences: state
                    .subjects
                    .iter()
                    .filter(|(_, c)| c.next() > 0)
                    .map(|(s, c)| (s.clone(), c.next() as i64 - 1))
                    .collect(),
            };
            let handles: Vec<SyncHandle> = state
                .subjects
                .values()
                .flat_map(|c| c.sync_handles())
                .collect();
            (cp, handles)
        };
        let (action_cp, pull_handles) = {
            let state = lock(&self.actions)?;
            let cp = ActionCheckpoint {
                offset: state.log.write_offset(),
                progress: state.progress.clone(),
            };
            let handles: Vec<SyncHandle> = state
                .pull_logs
                .values()
                .flat_map(|p| p.sync_handles())
                .collect();
            (cp, handles)
        };
        self.flush()?;
        self.sync_all(&consume_handles)?;
        self.sync_all(&pull_handles)?;
        let dir = self.dir.join(CHECKPOINT_DIR);
        checkpoint::write_atomic(
            &dir,
            checkpoint::MESSAGE_FILE,
            message_cp.encode().as_bytes(),
        )?;
        checkpoint::write_atomic(&dir, checkpoint::ACTION_FILE, action_cp.encode().as_bytes())?;
        lock(&self.flush)?.action_checkpoint = action_cp.offset;
        lock(&self.actions)?.log.remove_before(action_cp.offset)?;
        Ok(())
    }

    /// Clean shutdown: flush and checkpoint.
    ///
    /// # Errors
    /// I/O errors.
    pub fn close(&self) -> Result<(), StoreError> {
        self.checkpoint()
    }

    /// Starts the background threads: one flushes (per the flush policy; every 500 ms for the
    /// action log under [`FlushPolicy::Sync`]), checkpoints and applies retention; the other
    /// pre-faults message-log pages ahead of the writer. Dropping the returned handle stops both.
    ///
    /// # Errors
    /// The thread could not be spawned.
    pub fn start_background(self: &Arc<Self>) -> Result<Background, StoreError> {
        let flush_every = match self.config.flush {
            FlushPolicy::Periodic { interval } => interval,
            FlushPolicy::Sync => Duration::from_millis(500),
        };
        let checkpoint_every = self.config.checkpoint_interval;
        let retention_every = self.config.retention_check_interval;
        let tick = flush_every.min(checkpoint_every).min(retention_every);
        let (stop, stopped) = mpsc::channel::<()>();
        let stop_prefault = Arc::new(AtomicBool::new(false));
        let prefaulter = {
            let store = Arc::clone(self);
            let stop = Arc::clone(&stop_prefault);
            std::thread::Builder::new()
                .name("qmq-prefault".to_owned())
                .spawn(move || {
                    let mut prefaulter = Prefaulter::default();
                    while !stop.load(Ordering::Acquire) {
                        if let Err(err) = prefaulter.run(&store) {
                            warn!(cause = %err, "prefault failed");
                        }
                        std::thread::park_timeout(Duration::from_millis(2));
                    }
                })
                .map_err(|e| StoreError::io("spawn prefault thread", &self.dir, e))?
        };
        let store = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name("qmq-store".to_owned())
            .spawn(move || {
                let (mut last_flush, mut last_cp, mut last_retention) =
                    (Instant::now(), Instant::now(), Instant::now());
                loop {
                    match stopped.recv_timeout(tick) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                    let now = Instant::now();
                    if now - last_flush >= flush_every {
                        last_flush = now;
                        if let Err(err) = store.flush() {
                            error!(cause = %err, "periodic flush failed");
                        }
                    }
                    if now - last_cp >= checkpoint_every {
                        last_cp = now;
                        if let Err(err) = store.checkpoint() {
                            error!(cause = %err, "periodic checkpoint failed");
                        }
                    }
                    if now - last_retention >= retention_every {
                        last_retention = now;
                        if let Err(err) = store.clean_expired(SystemTime::now()) {
                            warn!(cause = %err, "retention pass failed");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::io("spawn background thread", &self.dir, e))?;
        Ok(Background {
            stop: Some(stop),
            handle: Some(handle),
            stop_prefault,
            prefaulter: Some(prefaulter),
        })
    }
}

/// The running background thread of a store; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub struct Background {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    stop_prefault: Arc<AtomicBool>,
    prefaulter: Option<JoinHandle<()>>,
}

impl Background {
    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.stop_prefault.store(true, Ordering::Release);
        for handle in [self.handle.take(), self.prefaulter.take()]
            .into_iter()
            .flatten()
        {
            handle.thread().unpark();
            if handle.join().is_err() {
                error!("store background thread panicked");
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}
