//! The [`IdempotenceStore`] contract, shared by every backend (and usable by stores written
//! outside this crate): each check panics, naming the backend, when the store breaks it.
//!
//! A factory returns a store that is *empty* (a fresh table, key prefix or database) on every
//! call. Stores whose time follows the injected [`ManualClock`] run [`run_all`]; stores whose
//! expiry is driven by the server (Redis) run [`run_clockless`] and test expiry in real time.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use super::{
    Clock, IdempotenceKey, IdempotenceStore, ManualClock, MarkOutcome, MemoryStore,
    MemoryStoreConfig,
};

/// Makes an empty store with an optional TTL reading time from the clock.
pub trait Factory: Fn(Option<Duration>, Arc<ManualClock>) -> Box<dyn IdempotenceStore> {}
impl<F: Fn(Option<Duration>, Arc<ManualClock>) -> Box<dyn IdempotenceStore>> Factory for F {}

/// The [`MemoryStore`] factory (the reference implementation).
pub fn memory_factory(ttl: Option<Duration>, clock: Arc<ManualClock>) -> Box<dyn IdempotenceStore> {
    let config = MemoryStoreConfig {
        capacity: 1000,
        ttl: ttl.unwrap_or(Duration::from_secs(365 * 24 * 3600)),
    };
    Box::new(MemoryStore::with_clock(config, clock).expect("memory store"))
}

/// Every check, for a store whose time follows the injected clock.
pub fn run_all(name: &str, make: impl Factory) {
    let plain = || make(None, clock());
    first_mark_wins_and_repeats_are_duplicates(name, &*plain());
    forget_lets_the_retry_be_processed(name, &*plain());
    completed_keys_stay_duplicates(name, &*plain());
    let c = clock();
    keys_expire_after_the_ttl(name, &*make(Some(Duration::from_secs(60)), c.clone()), &c);
    let c = clock();
    gc_drops_only_old_keys(name, &*make(None, c.clone()), &c);
    marks_from_many_threads_admit_one_each(name, Arc::from(plain()));
}

/// The checks that do not depend on time, for stores that expire keys by themselves.
pub fn run_clockless(name: &str, make: impl Fn() -> Box<dyn IdempotenceStore>) {
    first_mark_wins_and_repeats_are_duplicates(name, &*make());
    forget_lets_the_retry_be_processed(name, &*make());
    completed_keys_stay_duplicates(name, &*make());
    marks_from_many_threads_admit_one_each(name, Arc::from(make()));
}

/// A clock at a fixed whole second (some backends store whole seconds).
pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

fn key(id: &str) -> IdempotenceKey {
    IdempotenceKey::new("order.created", "billing", id)
}

/// Mark is first-time once, then duplicate; keys of another group are distinct.
pub fn first_mark_wins_and_repeats_are_duplicates(name: &str, s: &dyn IdempotenceStore) {
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime, "{name}");
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
    assert_eq!(s.mark(&key("b")).unwrap(), MarkOutcome::FirstTime, "{name}");
    let other_group = IdempotenceKey::new("order.created", "shipping", "a");
    assert_eq!(
        s.mark(&other_group).unwrap(),
        MarkOutcome::FirstTime,
        "{name}"
    );
}

/// A forgotten key is first-time again; forgetting an unknown key is fine.
pub fn forget_lets_the_retry_be_processed(name: &str, s: &dyn IdempotenceStore) {
    s.mark(&key("a")).unwrap();
    s.forget(&key("a")).unwrap();
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime, "{name}");
    s.forget(&key("never-seen")).unwrap();
}

/// Completed keys stay; completing an unmarked key records it.
pub fn completed_keys_stay_duplicates(name: &str, s: &dyn IdempotenceStore) {
    s.mark(&key("a")).unwrap();
    s.complete(&key("a")).unwrap();
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
    // Completing a key that was never marked (e.g. evicted) records it.
    s.complete(&key("z")).unwrap();
    assert_eq!(s.mark(&key("z")).unwrap(), MarkOutcome::Duplicate, "{name}");
}

/// With a 60 s TTL, a key is a duplicate for 59 s and first-time at 60 s.
pub fn keys_expire_after_the_ttl(name: &str, s: &dyn IdempotenceStore, c: &ManualClock) {
    s.mark(&key("a")).unwrap();
    c.advance(Duration::from_secs(59));
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
    c.advance(Duration::from_secs(1));
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime, "{name}");
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
}

/// gc deletes exactly the keys written before the cut-off.
pub fn gc_drops_only_old_keys(name: &str, s: &dyn IdempotenceStore, c: &ManualClock) {
    s.mark(&key("old")).unwrap();
    c.advance(Duration::from_secs(10));
    let cutoff = c.now();
    s.mark(&key("new")).unwrap();
    assert_eq!(s.gc(cutoff).unwrap(), 1, "{name}");
    assert_eq!(
        s.mark(&key("old")).unwrap(),
        MarkOutcome::FirstTime,
        "{name}"
    );
    assert_eq!(
        s.mark(&key("new")).unwrap(),
        MarkOutcome::Duplicate,
        "{name}"
    );
    assert_eq!(s.gc(cutoff).unwrap(), 0, "{name}");
}

/// Four threads mark the same 50 keys: exactly 50 first-times in all.
pub fn marks_from_many_threads_admit_one_each(name: &str, s: Arc<dyn IdempotenceStore>) {
    let stores = vec![s.clone(), s.clone(), s.clone(), s];
    concurrent_marks_admit_one_each(name, &stores, 50);
}

/// One thread per store (several stores may share one table) marks the same `keys` keys, in
/// different orders: each key is first-time for exactly one of them.
pub fn concurrent_marks_admit_one_each(
    name: &str,
    stores: &[Arc<dyn IdempotenceStore>],
    keys: usize,
) {
    let barrier = std::sync::Barrier::new(stores.len());
    let firsts: Vec<Vec<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(t, s)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let mut mine = Vec::new();
                    for i in 0..keys {
                        let i = if t % 2 == 0 { i } else { keys - 1 - i };
                        if s.mark(&key(&format!("c{i}"))).unwrap() == MarkOutcome::FirstTime {
                            mine.push(i);
                        }
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<usize> = firsts.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..keys).collect::<Vec<_>>(),
        "{name}: one first-time per key"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_are_shareable_trait_objects() {
        fn assert_send_sync<T: Send + Sync + ?Sized>() {}
        assert_send_sync::<dyn IdempotenceStore>();
    }
}
