//! Duplicate deliveries through a real consumer and an in-process server, with the idempotence
//! stores on real databases: the business effect — a counter row in the same database —
//! happens once per message, also when the listener fails mid-transaction and when the
//! database is down for a while.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use qmq_core::client::consumer::{ConsumeOptions, Handler, HandlerError, Subscription};
use qmq_core::client::idempotence::{IdempotenceStore, transactional_handler};
use qmq_core::protocol::Message;
use qmq_testkit::DatabaseServer;

use crate::consumer_support::{Seen, TestServer, WARM_UP, bodies, eventually, message, warm_up};
use crate::idempotence_support::{
    counter, mariadb_url, my_store, pg_store, postgres_url, redis_store, redis_url, unique,
};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

async fn stop(sub: Subscription) {
    sub.stop();
    tokio::time::timeout(Duration::from_secs(15), sub.stopped())
        .await
        .expect("subscription stops");
}

/// Sends `dup` twice (one message id, so the second is a duplicate delivery) and `flaky` once,
/// then waits until `counts` shows both (and `flaky` was attempted twice).
async fn send_duplicates_and_a_flaky_one(
    server: &TestServer,
    subject: &str,
    seen: &Seen,
    attempts: &Arc<Mutex<HashMap<String, usize>>>,
    counts: impl Fn() -> Vec<(String, i32)> + Send + Sync + Clone + 'static,
) {
    let sender = server.sender(subject).await;
    warm_up(&sender, seen, &[]).await;
    let dup = message(subject, "dup", &[]);
    sender.send(std::slice::from_ref(&dup)).await;
    sender.send(std::slice::from_ref(&dup)).await;
    sender.send_body("flaky", &[]).await;
    let ok = eventually(Duration::from_secs(15), || {
        attempts.lock().unwrap().get("flaky").copied().unwrap_or(0) >= 2
            && bodies(seen).iter().any(|b| b == "dup")
    })
    .await;
    assert!(ok, "attempts {:?}", attempts.lock().unwrap());
    // Give a wrongly processed duplicate time to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows = blocking(counts).await;
    let dup_id = format!("id:{}", dup.header.message_id);
    let dup_rows: Vec<_> = rows.iter().filter(|(id, _)| *id == dup_id).collect();
    assert_eq!(
        dup_rows,
        [&(dup_id.clone(), 1)],
        "dup effect once: {rows:?}"
    );
    let flaky: Vec<_> = rows
        .iter()
        .filter(|(id, _)| id.starts_with("body:flaky"))
        .collect();
    assert_eq!(flaky.len(), 1, "{rows:?}");
    assert_eq!(flaky[0].1, 1, "flaky effect once after the retry: {rows:?}");
}

fn note(attempts: &Arc<Mutex<HashMap<String, usize>>>, m: &Message) -> usize {
    let mut a = attempts.lock().unwrap();
    let n = a
        .entry(m.attr("body").unwrap_or("").to_owned())
        .or_default();
    *n += 1;
    *n
}

/// Counter row ids: `id:<message id>` for `dup`, `body:flaky` for the flaky one (its retry
/// arrives under the same message id).
fn counter_id(m: &Message) -> String {
    match m.attr("body") {
        Some("flaky") => "body:flaky".to_owned(),
        _ => format!("id:{}", m.header.message_id),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_in_consume_options_drops_duplicate_deliveries() {
    let url = postgres_url();
    let counters = unique("counter");
    let (store, u, c) = (url.clone(), url.clone(), counters.clone());
    let store = blocking(move || {
        let mut client = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        counter::pg_create(&mut client, &c);
        pg_store(&store, &unique("dedup"), None)
    })
    .await;
    let server = TestServer::start().await;
    let subject = "idem.pg.plain";
    let seen = Seen::default();
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler: Handler = {
        let (seen, attempts, url, counters) = (
            seen.clone(),
            attempts.clone(),
            url.clone(),
            counters.clone(),
        );
        Arc::new(move |m: &Message| {
            seen.lock().unwrap().push(m.clone());
            if m.attr("body") == Some(WARM_UP) {
                return Ok(());
            }
            // The retry of a failure that happened before the effect runs again.
            if note(&attempts, m) == 1 && m.attr("body") == Some("flaky") {
                return Err(HandlerError::new("first try fails"));
            }
            // A connection per message, dropped here on the handler's blocking thread (the
            // sync client must not be dropped on a runtime worker).
            let mut c = postgres::Client::connect(&url, postgres::NoTls)
                .map_err(|e| HandlerError::new(e.to_string()))?;
            counter::pg_bump(&mut c, &counters, &counter_id(m))
                .map(drop)
                .map_err(|e| HandlerError::new(e.to_string()))
        })
    };
    let options = ConsumeOptions {
        idempotence: Some(Arc::new(store) as Arc<dyn IdempotenceStore>),
        ..ConsumeOptions::default()
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", options, handler)
        .expect("subscribe");
    let (u, c) = (url.clone(), counters.clone());
    send_duplicates_and_a_flaky_one(&server, subject, &seen, &attempts, move || {
        counter::pg_read(&u, &c)
    })
    .await;
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_in_consume_options_drops_duplicate_deliveries() {
    let store = redis_store(&redis_url(), &unique("idem"), Duration::from_secs(600));
    let server = TestServer::start().await;
    let subject = "idem.redis.plain";
    let seen = Seen::default();
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    // Redis has no transactions with the business data; the effect is counted in memory.
    let effects = Arc::new(Mutex::new(HashMap::<String, i32>::new()));
    let handler: Handler = {
        let (seen, attempts, effects) = (seen.clone(), attempts.clone(), effects.clone());
        Arc::new(move |m: &Message| {
            seen.lock().unwrap().push(m.clone());
            if m.attr("body") == Some(WARM_UP) {
                return Ok(());
            }
            if note(&attempts, m) == 1 && m.attr("body") == Some("flaky") {
                return Err(HandlerError::new("first try fails"));
            }
            *effects.lock().unwrap().entry(counter_id(m)).or_default() += 1;
            Ok(())
        })
    };
    let options = ConsumeOptions {
        idempotence: Some(Arc::new(store) as Arc<dyn IdempotenceStore>),
        ..ConsumeOptions::default()
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", options, handler)
        .expect("subscribe");
    send_duplicates_and_a_flaky_one(&server, subject, &seen, &attempts, move || {
        effects
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    })
    .await;
    stop(sub).await;
    server.stop().await;
}

/// The listener's work and the dedup row share one transaction; the flaky message's first
/// attempt bumps its counter and then fails, so the bump must vanish with the rollback.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_transactional_listener_failing_mid_transaction_takes_effect_once() {
    let url = postgres_url();
    let counters = unique("counter");
    let (u, c) = (url.clone(), counters.clone());
    let store = blocking(move || {
        let mut client = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        counter::pg_create(&mut client, &c);
        Arc::new(pg_store(&u, &unique("dedup"), None))
    })
    .await;
    let server = TestServer::start().await;
    let subject = "idem.pg.tx";
    let seen = Seen::default();
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler = {
        let (seen, attempts, counters) = (seen.clone(), attempts.clone(), counters.clone());
        transactional_handler(
            subject,
            "g",
            store,
            move |tx: &mut postgres::Transaction<'_>, m: &Message| {
                seen.lock().unwrap().push(m.clone());
                if m.attr("body") == Some(WARM_UP) {
                    return Ok(());
                }
                counter::pg_bump(tx, &counters, &counter_id(m))
                    .map_err(|e| HandlerError::new(e.to_string()))?;
                if note(&attempts, m) == 1 && m.attr("body") == Some("flaky") {
                    return Err(HandlerError::new("fails after its update"));
                }
                Ok(())
            },
        )
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", ConsumeOptions::default(), handler)
        .expect("subscribe");
    send_duplicates_and_a_flaky_one(&server, subject, &seen, &attempts, move || {
        counter::pg_read(&url, &counters)
    })
    .await;
    stop(sub).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_transactional_listener_failing_mid_transaction_takes_effect_once() {
    let url = mariadb_url();
    let counters = unique("counter");
    counter::my_create(&url, &counters);
    let store = Arc::new(my_store(&url, &unique("dedup"), None));
    let server = TestServer::start().await;
    let subject = "idem.mysql.tx";
    let seen = Seen::default();
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler = {
        let (seen, attempts, counters) = (seen.clone(), attempts.clone(), counters.clone());
        transactional_handler(
            subject,
            "g",
            store,
            move |tx: &mut mysql::Transaction<'_>, m: &Message| {
                seen.lock().unwrap().push(m.clone());
                if m.attr("body") == Some(WARM_UP) {
                    return Ok(());
                }
                counter::my_bump(tx, &counters, &counter_id(m))
                    .map_err(|e| HandlerError::new(e.to_string()))?;
                if note(&attempts, m) == 1 && m.attr("body") == Some("flaky") {
                    return Err(HandlerError::new("fails after its update"));
                }
                Ok(())
            },
        )
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", ConsumeOptions::default(), handler)
        .expect("subscribe");
    send_duplicates_and_a_flaky_one(&server, subject, &seen, &attempts, move || {
        counter::my_read(&url, &counters)
    })
    .await;
    stop(sub).await;
    server.stop().await;
}

/// The database goes down while messages arrive: every attempt fails (the messages are not
/// acked), and once it is back each message takes effect exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_delays_messages_but_loses_none() {
    let (mut db, store, url, counters) = blocking(|| {
        let db = DatabaseServer::postgres().expect("postgres");
        let url = db.url();
        let counters = unique("counter");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        counter::pg_create(&mut client, &counters);
        let store = Arc::new(pg_store(&url, "deduplicate_tbl", None));
        (db, store, url, counters)
    })
    .await;
    let server = TestServer::start().await;
    let subject = "idem.pg.outage";
    let seen = Seen::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (seen, counters) = (seen.clone(), counters.clone());
        transactional_handler(
            subject,
            "g",
            store,
            move |tx: &mut postgres::Transaction<'_>, m: &Message| {
                seen.lock().unwrap().push(m.clone());
                if m.attr("body") == Some(WARM_UP) {
                    return Ok(());
                }
                counter::pg_bump(tx, &counters, &counter_id(m))
                    .map(drop)
                    .map_err(|e| HandlerError::new(e.to_string()))
            },
        )
    };
    // Count the failed attempts the outage causes (the handler's own errors never reach the
    // work, so wrap it).
    let counting: Handler = {
        let failures = failures.clone();
        Arc::new(move |m: &Message| {
            let r = handler(m);
            if r.is_err() {
                failures.fetch_add(1, Ordering::SeqCst);
            }
            r
        })
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", ConsumeOptions::default(), counting)
        .expect("subscribe");
    let sender = server.sender(subject).await;
    warm_up(&sender, &seen, &[]).await;
    let db = blocking(move || {
        db.stop();
        db
    })
    .await;
    let sent: Vec<Message> = (0..3)
        .map(|i| message(subject, &format!("m{i}"), &[]))
        .collect();
    sender.send(&sent).await;
    assert!(
        eventually(Duration::from_secs(15), || failures.load(Ordering::SeqCst)
            >= 6)
        .await,
        "attempts fail while the database is down (failures {})",
        failures.load(Ordering::SeqCst)
    );
    let mut db = db;
    let db = blocking(move || {
        db.start().expect("restart postgres");
        db
    })
    .await;
    let expected: Vec<(String, i32)> = {
        let mut v: Vec<_> = sent.iter().map(|m| (counter_id(m), 1)).collect();
        v.sort();
        v
    };
    for _ in 0..150 {
        let (u, c) = (url.clone(), counters.clone());
        let rows = blocking(move || counter::pg_try_read(&u, &c)).await;
        if rows.is_ok_and(|r| r.len() == expected.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let any redelivery of an already committed message arrive.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (u, c) = (url.clone(), counters.clone());
    let rows = blocking(move || counter::pg_read(&u, &c)).await;
    assert_eq!(rows, expected, "every message once after the outage");
    stop(sub).await;
    server.stop().await;
    blocking(move || drop(db)).await;
}

/// The same outage with the plain (non-transactional) store of `ConsumeOptions`: while MariaDB
/// is down the mark fails, so the handler is not called and the message is not acked; after
/// the restart each message is processed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_outage_in_consume_options_delays_messages_but_loses_none() {
    let (db, store) = blocking(|| {
        let db = DatabaseServer::mariadb().expect("mariadb");
        let store = my_store(&db.url(), "deduplicate_tbl", None);
        (db, store)
    })
    .await;
    let server = TestServer::start().await;
    let subject = "idem.mysql.outage";
    let seen = Seen::default();
    let handler: Handler = {
        let seen = seen.clone();
        Arc::new(move |m: &Message| {
            seen.lock().unwrap().push(m.clone());
            Ok(())
        })
    };
    let options = ConsumeOptions {
        idempotence: Some(Arc::new(store) as Arc<dyn IdempotenceStore>),
        ..ConsumeOptions::default()
    };
    let sub = server
        .consumer()
        .subscribe(subject, "g", options, handler)
        .expect("subscribe");
    let sender = server.sender(subject).await;
    warm_up(&sender, &seen, &[]).await;
    let mut db = blocking(move || {
        let mut db = db;
        db.stop();
        db
    })
    .await;
    let sent: Vec<Message> = (0..3)
        .map(|i| message(subject, &format!("m{i}"), &[]))
        .collect();
    sender.send(&sent).await;
    // Several retry rounds (200 ms apart) pass without the handler seeing a message.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        bodies(&seen).is_empty(),
        "processed while the store was down"
    );
    db = blocking(move || {
        db.start().expect("restart mariadb");
        db
    })
    .await;
    let all = eventually(Duration::from_secs(20), || bodies(&seen).len() >= 3).await;
    assert!(all, "after the restart: {:?}", bodies(&seen));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut got = bodies(&seen);
    got.sort();
    assert_eq!(got, ["m0", "m1", "m2"], "each message once");
    stop(sub).await;
    server.stop().await;
    blocking(move || drop(db)).await;
}
