//! The `IdempotenceStore` contract, run against every backend.

use super::*;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

type Factory = fn(Option<Duration>, Arc<ManualClock>) -> Box<dyn IdempotenceStore>;

fn memory(ttl: Option<Duration>, clock: Arc<ManualClock>) -> Box<dyn IdempotenceStore> {
    let config = MemoryStoreConfig {
        capacity: 1000,
        ttl: ttl.unwrap_or(Duration::from_secs(365 * 24 * 3600)),
    };
    Box::new(MemoryStore::with_clock(config, clock).unwrap())
}

fn sqlite(ttl: Option<Duration>, clock: Arc<ManualClock>) -> Box<dyn IdempotenceStore> {
    let config = SqliteStoreConfig {
        ttl,
        ..SqliteStoreConfig::default()
    };
    Box::new(
        SqliteStore::open_in_memory(config)
            .unwrap()
            .with_clock(clock),
    )
}

const BACKENDS: [(&str, Factory); 2] = [("memory", memory), ("sqlite", sqlite)];

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ))
}

fn key(id: &str) -> IdempotenceKey {
    IdempotenceKey::new("order.created", "billing", id)
}

#[test]
fn first_mark_wins_and_repeats_are_duplicates() {
    for (name, make) in BACKENDS {
        let s = make(None, clock());
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
}

#[test]
fn forget_lets_the_retry_be_processed() {
    for (name, make) in BACKENDS {
        let s = make(None, clock());
        s.mark(&key("a")).unwrap();
        s.forget(&key("a")).unwrap();
        assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime, "{name}");
        s.forget(&key("never-seen")).unwrap();
    }
}

#[test]
fn completed_keys_stay_duplicates() {
    for (name, make) in BACKENDS {
        let s = make(None, clock());
        s.mark(&key("a")).unwrap();
        s.complete(&key("a")).unwrap();
        assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
        // Completing a key that was never marked (e.g. evicted) records it.
        s.complete(&key("z")).unwrap();
        assert_eq!(s.mark(&key("z")).unwrap(), MarkOutcome::Duplicate, "{name}");
    }
}

#[test]
fn keys_expire_after_the_ttl() {
    for (name, make) in BACKENDS {
        let c = clock();
        let s = make(Some(Duration::from_secs(60)), c.clone());
        s.mark(&key("a")).unwrap();
        c.advance(Duration::from_secs(59));
        assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
        c.advance(Duration::from_secs(1));
        assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime, "{name}");
        assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::Duplicate, "{name}");
    }
}

#[test]
fn gc_drops_only_old_keys() {
    for (name, make) in BACKENDS {
        let c = clock();
        let s = make(None, c.clone());
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
}

#[test]
fn stores_are_shareable_trait_objects() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn IdempotenceStore>();
    let stores: Vec<Arc<dyn IdempotenceStore>> = vec![
        Arc::new(MemoryStore::new(MemoryStoreConfig::default()).unwrap()),
        Arc::new(SqliteStore::open_in_memory(SqliteStoreConfig::default()).unwrap()),
    ];
    for s in stores {
        let firsts: usize = std::thread::scope(|scope| {
            (0..4)
                .map(|_| {
                    let s = s.clone();
                    scope.spawn(move || {
                        (0..50)
                            .filter(|i| {
                                s.mark(&key(&i.to_string())).unwrap() == MarkOutcome::FirstTime
                            })
                            .count()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum()
        });
        assert_eq!(firsts, 50);
    }
}
