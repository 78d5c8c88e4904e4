//! The PostgreSQL, MySQL (MariaDB) and Redis idempotence stores on real servers: the shared
//! contract, concurrent marks over several connections, the transactional mode, and the
//! database going down and coming back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use qmq_core::client::idempotence::{
    IdempotenceError, IdempotenceKey, IdempotenceStore, MarkOutcome, Processed, SqliteStore,
    SqliteStoreConfig, TransactionalError, TransactionalIdempotence, contract,
};
use qmq_testkit::DatabaseServer;

use crate::idempotence_support::{
    counter, mariadb_url, my_factory, my_store, pg_factory, pg_store, postgres_url, redis_store,
    redis_url, unique,
};

fn key(id: &str) -> IdempotenceKey {
    IdempotenceKey::new("orders", "billing", id)
}

#[test]
fn postgres_store_passes_the_contract() {
    contract::run_all("postgres", pg_factory);
}

#[test]
fn mysql_store_passes_the_contract() {
    contract::run_all("mysql", my_factory);
}

#[test]
fn redis_store_passes_the_contract() {
    let url = redis_url();
    contract::run_clockless("redis", || {
        Box::new(redis_store(&url, &unique("idem"), Duration::from_secs(600)))
    });
}

#[test]
fn redis_keys_expire_with_the_server_ttl_and_complete_refreshes_it() {
    let s = redis_store(&redis_url(), &unique("idem"), Duration::from_millis(800));
    assert_eq!(s.mark(&key("a")).unwrap(), MarkOutcome::FirstTime);
    assert_eq!(s.mark(&key("b")).unwrap(), MarkOutcome::FirstTime);
    std::thread::sleep(Duration::from_millis(500));
    s.complete(&key("b")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        s.mark(&key("a")).unwrap(),
        MarkOutcome::FirstTime,
        "a expired"
    );
    assert_eq!(
        s.mark(&key("b")).unwrap(),
        MarkOutcome::Duplicate,
        "b refreshed"
    );
    assert_eq!(
        s.gc(std::time::SystemTime::now()).unwrap(),
        0,
        "gc is TTL-driven"
    );
}

/// Several stores — each its own connection pool, like several consumer processes — on one
/// table race to mark the same keys.
#[test]
fn concurrent_marks_over_separate_connections_admit_one_per_key() {
    let (pg, my, rd) = (postgres_url(), mariadb_url(), redis_url());
    let pg_table = unique("race");
    let my_table = unique("race");
    let prefix = unique("race");
    let ttl = Duration::from_secs(600);
    let pgs: Vec<Arc<dyn IdempotenceStore>> = (0..4)
        .map(|_| Arc::new(pg_store(&pg, &pg_table, None)) as Arc<dyn IdempotenceStore>)
        .collect();
    let mys: Vec<Arc<dyn IdempotenceStore>> = (0..4)
        .map(|_| Arc::new(my_store(&my, &my_table, None)) as Arc<dyn IdempotenceStore>)
        .collect();
    let rds: Vec<Arc<dyn IdempotenceStore>> = (0..4)
        .map(|_| Arc::new(redis_store(&rd, &prefix, ttl)) as Arc<dyn IdempotenceStore>)
        .collect();
    contract::concurrent_marks_admit_one_each("postgres", &pgs, 200);
    contract::concurrent_marks_admit_one_each("mysql", &mys, 200);
    contract::concurrent_marks_admit_one_each("redis", &rds, 200);
}

/// The transactional contract, for any store and its business `bump`: a first delivery commits
/// work and key together, a failing one leaves neither, a duplicate skips, and concurrent
/// deliveries of one key run the work once.
fn transactional_contract<S>(
    name: &str,
    store: &S,
    bump: impl for<'t> Fn(&mut S::Tx<'t>, &str) -> Result<(), String> + Sync,
    read: impl Fn() -> Vec<(String, i32)>,
) where
    S: TransactionalIdempotence,
{
    // The work fails after its update: the update and the key are rolled back together.
    let failed = store.process_in_transaction(&key("m1"), |tx| {
        bump(tx, "m1")?;
        Err::<(), _>("listener failed mid-transaction".to_owned())
    });
    assert!(
        matches!(failed, Err(TransactionalError::Work(_))),
        "{name}: {failed:?}"
    );
    assert!(read().is_empty(), "{name}: rolled back: {:?}", read());
    // The retry runs and commits.
    let done = store
        .process_in_transaction(&key("m1"), |tx| bump(tx, "m1"))
        .unwrap();
    assert_eq!(done, Processed::Done(()), "{name}");
    // A redelivery is a duplicate and does not run the work.
    let ran = AtomicUsize::new(0);
    let dup = store
        .process_in_transaction(&key("m1"), |tx| {
            ran.fetch_add(1, Ordering::SeqCst);
            bump(tx, "m1")
        })
        .unwrap();
    assert_eq!(dup, Processed::Duplicate, "{name}");
    assert_eq!(ran.load(Ordering::SeqCst), 0, "{name}");
    // Concurrent deliveries of one message: the second insert waits for the first
    // transaction, then sees its key.
    let outcomes: Vec<Processed<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    store
                        .process_in_transaction(&key("m2"), |tx| {
                            bump(tx, "m2")?;
                            std::thread::sleep(Duration::from_millis(50));
                            Ok::<_, String>(())
                        })
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Processed::Done(()))
            .count(),
        1,
        "{name}: {outcomes:?}"
    );
    assert_eq!(
        read(),
        [("m1".to_owned(), 1), ("m2".to_owned(), 1)],
        "{name}: each effect once"
    );
}

#[test]
fn postgres_transactional_mode_runs_the_work_exactly_once() {
    let url = postgres_url();
    let counters = unique("counter");
    let store = pg_store(&url, &unique("dedup"), None);
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    counter::pg_create(&mut client, &counters);
    transactional_contract(
        "postgres",
        &store,
        |tx, id| {
            counter::pg_bump(tx, &counters, id)
                .map(drop)
                .map_err(|e| e.to_string())
        },
        || counter::pg_read(&url, &counters),
    );
}

#[test]
fn mysql_transactional_mode_runs_the_work_exactly_once() {
    let url = mariadb_url();
    let counters = unique("counter");
    let store = my_store(&url, &unique("dedup"), None);
    counter::my_create(&url, &counters);
    transactional_contract(
        "mysql",
        &store,
        |tx, id| counter::my_bump(tx, &counters, id).map_err(|e| e.to_string()),
        || counter::my_read(&url, &counters),
    );
}

#[test]
fn sqlite_transactional_mode_runs_the_work_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let store = SqliteStore::open(&path, SqliteStoreConfig::default()).unwrap();
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader
        .execute_batch("CREATE TABLE counter (id TEXT PRIMARY KEY, n INT NOT NULL)")
        .unwrap();
    transactional_contract(
        "sqlite",
        &store,
        |tx, id| {
            tx.execute(
                "INSERT INTO counter(id, n) VALUES (?1, 1) \
                 ON CONFLICT(id) DO UPDATE SET n = n + 1",
                [id],
            )
            .map(drop)
            .map_err(|e| e.to_string())
        },
        || {
            let mut stmt = reader
                .prepare("SELECT id, n FROM counter ORDER BY id")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        },
    );
}

/// Stops `server`, checks that `store` fails with a retriable error naming the backend, starts
/// the server again and checks that the same store works without being rebuilt.
fn survives_a_restart(
    backend: &str,
    server: &mut DatabaseServer,
    store: &dyn IdempotenceStore,
    reopened: impl Fn(&IdempotenceError) -> bool,
) {
    assert_eq!(store.mark(&key("before")).unwrap(), MarkOutcome::FirstTime);
    server.stop();
    let err = store.mark(&key("during")).unwrap_err();
    assert!(err.is_retriable(), "{backend}: {err}");
    assert!(err.to_string().contains(backend), "{backend}: {err}");
    assert!(reopened(&err), "{backend}: {err:?}");
    assert!(store.complete(&key("during")).is_err(), "{backend}");
    server.start().expect("restart");
    assert_eq!(
        mark_until_ok(backend, store, "after"),
        MarkOutcome::FirstTime
    );
    assert_eq!(
        store.mark(&key("before")).unwrap(),
        MarkOutcome::Duplicate,
        "{backend}: data kept"
    );
    assert_eq!(
        store.mark(&key("during")).unwrap(),
        MarkOutcome::FirstTime,
        "{backend}: the failed mark left nothing"
    );
}

/// Marks `id` until it works: right after a restart a call may still meet a connection that
/// died with the old server (mark is not retried internally) or a server that is still
/// recovering. Each such error must be retriable, and the store must recover by itself.
fn mark_until_ok(backend: &str, store: &dyn IdempotenceStore, id: &str) -> MarkOutcome {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match store.mark(&key(id)) {
            Ok(outcome) => return outcome,
            Err(e) => {
                assert!(e.is_retriable(), "{backend}: {e:?}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "{backend}: still failing after the restart: {e:?}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn postgres_store_reconnects_after_the_database_restarts() {
    let mut server = DatabaseServer::postgres().expect("postgres");
    let store = pg_store(&server.url(), "deduplicate_tbl", None);
    survives_a_restart("postgres", &mut server, &store, |e| {
        matches!(e, IdempotenceError::Postgres { .. })
    });
}

#[test]
fn mysql_store_reconnects_after_the_database_restarts() {
    let mut server = DatabaseServer::mariadb().expect("mariadb");
    let store = my_store(&server.url(), "deduplicate_tbl", None);
    survives_a_restart("mysql", &mut server, &store, |e| {
        matches!(e, IdempotenceError::MySql { .. })
    });
}

#[test]
fn redis_store_reconnects_after_the_server_restarts() {
    let mut server = DatabaseServer::redis().expect("redis");
    let store = redis_store(&server.url(), "idem", Duration::from_secs(600));
    // Redis in the testkit runs without persistence: "before" is gone after the restart, so
    // check the reconnect only.
    assert_eq!(store.mark(&key("before")).unwrap(), MarkOutcome::FirstTime);
    server.stop();
    let err = store.mark(&key("during")).unwrap_err();
    assert!(err.is_retriable(), "{err}");
    assert!(matches!(err, IdempotenceError::Redis { .. }), "{err:?}");
    server.start().expect("restart");
    assert_eq!(
        mark_until_ok("redis", &store, "after"),
        MarkOutcome::FirstTime
    );
    assert_eq!(store.mark(&key("after")).unwrap(), MarkOutcome::Duplicate);
}

#[test]
fn bad_table_names_and_urls_fail_clearly() {
    let err = qmq_core::client::idempotence::PostgresStore::connect(
        qmq_core::client::idempotence::PostgresStoreConfig {
            table: "x; DROP TABLE y".into(),
            ..qmq_core::client::idempotence::PostgresStoreConfig::new(postgres_url())
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, IdempotenceError::InvalidTableName { .. }),
        "{err:?}"
    );
    let err = qmq_core::client::idempotence::MySqlStore::connect(
        qmq_core::client::idempotence::MySqlStoreConfig::new(
            "mysql://root:hunter2@127.0.0.1:1/qmq",
        ),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("connect") && !text.contains("hunter2"),
        "{text}"
    );
}

/// Consumer processes starting together all create the table; none may fail on the race.
#[test]
fn stores_created_concurrently_on_a_new_table_all_start() {
    let (pg, my) = (postgres_url(), mariadb_url());
    let (pg_table, my_table) = (unique("together"), unique("together"));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let (pg, my, pg_table, my_table) = (&pg, &my, &pg_table, &my_table);
                scope.spawn(move || {
                    if i % 2 == 0 {
                        drop(pg_store(pg, pg_table, None));
                    } else {
                        drop(my_store(my, my_table, None));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("store starts");
        }
    });
}
