//! In-memory idempotence store: bounded, with TTL expiry.
//!
//! Invariants:
//! * at most `capacity` keys; inserting into a full store evicts the key written longest ago
//!   (write order; `mark` of a duplicate does not refresh a key, `complete` does);
//! * a key written `ttl` or more ago counts as absent, and is dropped lazily by `mark` or `gc`;
//! * all state sits behind one mutex that is never held across I/O or user code.
//!
//! Memory only: a restart forgets everything. Use [`SqliteStore`](super::SqliteStore) when
//! duplicates across restarts matter.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::{Clock, IdempotenceError, IdempotenceKey, IdempotenceStore, MarkOutcome, SystemClock};

/// Limits of a [`MemoryStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryStoreConfig {
    /// Most keys kept. Default 100 000.
    pub capacity: usize,
    /// Age at which a key expires. Default 24 h.
    pub ttl: Duration,
}

impl Default for MemoryStoreConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            ttl: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    written: SystemTime,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    /// Write sequence → key, oldest first.
    order: BTreeMap<u64, String>,
    next_seq: u64,
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&e.seq);
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, key)) = self.order.pop_first() {
            self.entries.remove(&key);
        }
    }

    fn insert(&mut self, key: &str, now: SystemTime, capacity: usize) {
        self.remove(key);
        while self.entries.len() >= capacity && !self.entries.is_empty() {
            self.pop_oldest();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, key.to_owned());
        self.entries
            .insert(key.to_owned(), Entry { seq, written: now });
    }
}

/// A bounded in-memory [`IdempotenceStore`] with TTL; thread-safe.
#[derive(Debug)]
pub struct MemoryStore {
    config: MemoryStoreConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// A store on the system clock.
    ///
    /// # Errors
    /// [`IdempotenceError::ZeroCapacity`] if `capacity` is 0.
    pub fn new(config: MemoryStoreConfig) -> Result<Self, IdempotenceError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A store reading time from `clock`.
    ///
    /// # Errors
    /// [`IdempotenceError::ZeroCapacity`] if `capacity` is 0.
    pub fn with_clock(
        config: MemoryStoreConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdempotenceError> {
        if config.capacity == 0 {
            return Err(IdempotenceError::ZeroCapacity);
        }
        Ok(Self {
            config,
            clock,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Number of keys held, expired ones included until they are dropped.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn expired(&self, written: SystemTime, now: SystemTime) -> bool {
        // A key "from the future" (the clock went back) is treated as fresh.
        now.duration_since(written)
            .is_ok_and(|age| age >= self.config.ttl)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code path panics while holding the lock; recover from poison anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl IdempotenceStore for MemoryStore {
    fn mark(&self, key: &IdempotenceKey) -> Result<MarkOutcome, IdempotenceError> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(e) = inner.entries.get(key.as_str()) {
            if !self.expired(e.written, now) {
                return Ok(MarkOutcome::Duplicate);
            }
        }
        // Drop expired keys from the old end first, so they go before live ones are evicted.
        while let Some((_, oldest)) = inner.order.first_key_value() {
            let expired = inner
                .entries
                .get(oldest)
                .is_none_or(|e| self.expired(e.written, now));
            if !expired {
                break;
            }
            inner.pop_oldest();
        }
        inner.insert(key.as_str(), now, self.config.capacity);
        Ok(MarkOutcome::FirstTime)
    }

    fn forget(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        self.lock().remove(key.as_str());
        Ok(())
    }

    fn complete(&self, key: &IdempotenceKey) -> Result<(), IdempotenceError> {
        let now = self.clock.now();
        self.lock().insert(key.as_str(), now, self.config.capacity);
        Ok(())
    }

    fn gc(&self, older_than: SystemTime) -> Result<u64, IdempotenceError> {
        let mut inner = self.lock();
        let stale: Vec<String> = inner
            .entries
            .iter()
            .filter(|(_, e)| e.written < older_than)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &stale {
            inner.remove(key);
        }
        Ok(stale.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::idempotence::ManualClock;
    use std::time::UNIX_EPOCH;

    fn key(id: u32) -> IdempotenceKey {
        IdempotenceKey::new("s", "g", &id.to_string())
    }

    fn store(capacity: usize, ttl_secs: u64) -> (MemoryStore, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        ));
        let config = MemoryStoreConfig {
            capacity,
            ttl: Duration::from_secs(ttl_secs),
        };
        (
            MemoryStore::with_clock(config, clock.clone()).unwrap(),
            clock,
        )
    }

    #[test]
    fn capacity_evicts_the_oldest_written_key() {
        let (s, clock) = store(3, 3600);
        for id in 0..3 {
            assert_eq!(s.mark(&key(id)).unwrap(), MarkOutcome::FirstTime);
            clock.advance(Duration::from_secs(1));
        }
        s.complete(&key(0)).unwrap(); // rewritten: now the newest
        assert_eq!(s.mark(&key(3)).unwrap(), MarkOutcome::FirstTime);
        assert_eq!(s.len(), 3);
        assert_eq!(s.mark(&key(0)).unwrap(), MarkOutcome::Duplicate);
        assert_eq!(s.mark(&key(2)).unwrap(), MarkOutcome::Duplicate);
        // key 1 was the oldest write and went first.
        assert_eq!(s.mark(&key(1)).unwrap(), MarkOutcome::FirstTime);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn expired_keys_go_before_live_ones() {
        let (s, clock) = store(2, 10);
        s.mark(&key(0)).unwrap();
        clock.advance(Duration::from_secs(5));
        s.mark(&key(1)).unwrap();
        clock.advance(Duration::from_secs(6)); // key 0 is 11 s old: expired
        s.mark(&key(2)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.mark(&key(1)).unwrap(), MarkOutcome::Duplicate);
    }

    #[test]
    fn zero_capacity_is_rejected() {
        let err = MemoryStore::new(MemoryStoreConfig {
            capacity: 0,
            ..MemoryStoreConfig::default()
        })
        .unwrap_err();
        assert!(matches!(err, IdempotenceError::ZeroCapacity));
    }

    #[test]
    fn concurrent_marks_admit_exactly_one() {
        let s = Arc::new(MemoryStore::new(MemoryStoreConfig::default()).unwrap());
        let winners: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let s = s.clone();
                    scope.spawn(move || {
                        (0..200)
                            .filter(|i| s.mark(&key(*i)).unwrap() == MarkOutcome::FirstTime)
                            .count()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 200);
    }
}
