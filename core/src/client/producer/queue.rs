//! `Gate`: the bound on a producer's pending messages (QMQ's send queue, 10 000 by default).
//!
//! A message takes a slot when it is accepted and gives it back when its completion fires, so
//! the bound covers messages waiting for a batch, in flight and waiting to be retried. A full
//! gate is never silent: [`Gate::try_admit`] fails with [`ClientError::QueueFull`], and
//! [`Gate::admit`] waits (back-pressure) until a slot frees or the gate closes.
//!
//! Invariants: `pending` equals admitted minus released slots; [`Gate::wait_idle`] returns only
//! when it is zero; after [`Gate::close`] nobody is admitted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore, TryAcquireError};

use crate::client::error::ClientError;

/// Admission control and idle tracking for one producer.
#[derive(Debug)]
pub(crate) struct Gate {
    capacity: usize,
    slots: Semaphore,
    pending: AtomicUsize,
    idle: Notify,
    /// For synchronous waiters; taken only when `pending` drops to zero or by a waiter.
    idle_lock: Mutex<()>,
    idle_cv: Condvar,
}

impl Gate {
    /// A gate with `capacity` slots.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            slots: Semaphore::new(capacity.min(Semaphore::MAX_PERMITS)),
            pending: AtomicUsize::new(0),
            idle: Notify::new(),
            idle_lock: Mutex::new(()),
            idle_cv: Condvar::new(),
        }
    }

    /// Takes a slot if one is free.
    ///
    /// # Errors
    /// [`ClientError::QueueFull`] when every slot is taken, [`ClientError::ProducerClosed`]
    /// after [`Gate::close`].
    pub(crate) fn try_admit(&self) -> Result<(), ClientError> {
        match self.slots.try_acquire() {
            Ok(permit) => {
                permit.forget();
                self.pending.fetch_add(1, Ordering::AcqRel);
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(ClientError::QueueFull {
                capacity: self.capacity,
            }),
            Err(TryAcquireError::Closed) => Err(ClientError::ProducerClosed),
        }
    }

    /// Waits for a free slot and takes it.
    ///
    /// # Errors
    /// [`ClientError::ProducerClosed`] if the gate closes first.
    pub(crate) async fn admit(&self) -> Result<(), ClientError> {
        let permit = self
            .slots
            .acquire()
            .await
            .map_err(|_| ClientError::ProducerClosed)?;
        permit.forget();
        self.pending.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Gives a slot back.
    pub(crate) fn release(&self) {
        self.slots.add_permits(1);
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
            // Taking the lock orders this wake-up after a waiter's check-then-wait.
            let _guard = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.idle_cv.notify_all();
        }
    }

    /// Messages accepted and not yet completed.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Stops admitting; waiters in [`Gate::admit`] fail.
    pub(crate) fn close(&self) {
        self.slots.close();
    }

    /// Waits until no message is pending.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Register before checking, so a release in between is not missed.
            notified.as_mut().enable();
            if self.pending() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Gate {
    /// Blocks the calling thread until no message is pending or `deadline` passes; returns
    /// whether it became idle. Needs no runtime, so it works while the runtime shuts down.
    pub(crate) fn wait_idle_blocking(&self, deadline: Duration) -> bool {
        let end = Instant::now().checked_add(deadline);
        let mut guard = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.pending() > 0 {
            let left = match end {
                Some(end) => end.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return false;
            }
            guard = self
                .idle_cv
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn full_gate_is_an_error_not_a_loss() {
        let g = Gate::new(2);
        g.try_admit().unwrap();
        g.try_admit().unwrap();
        assert!(matches!(
            g.try_admit(),
            Err(ClientError::QueueFull { capacity: 2 })
        ));
        g.release();
        g.try_admit().unwrap();
        assert_eq!(g.pending(), 2);
        g.close();
        assert!(matches!(g.try_admit(), Err(ClientError::ProducerClosed)));
    }

    #[tokio::test]
    async fn admit_waits_for_a_slot_and_wait_idle_for_zero() {
        let g = Arc::new(Gate::new(1));
        g.admit().await.unwrap();
        let g2 = g.clone();
        let waiter = tokio::spawn(async move { g2.admit().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        g.release();
        waiter.await.unwrap().unwrap();
        let g3 = g.clone();
        let idle = tokio::spawn(async move { g3.wait_idle().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!idle.is_finished());
        g.release();
        tokio::time::timeout(Duration::from_secs(1), idle)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn blocking_wait_idle_sees_the_last_release_or_times_out() {
        let g = Arc::new(Gate::new(4));
        g.try_admit().unwrap();
        assert!(!g.wait_idle_blocking(Duration::from_millis(20)));
        let g2 = g.clone();
        let t = std::thread::spawn(move || g2.wait_idle_blocking(Duration::from_secs(5)));
        std::thread::sleep(Duration::from_millis(20));
        g.release();
        assert!(t.join().unwrap());
        assert!(g.wait_idle_blocking(Duration::ZERO));
    }
}
