//! Two watchdog processes on the same databases: the database lets one work at a time, every
//! row is delivered exactly once, and when one watchdog dies the other carries on.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable;

use super::Fixture;
use super::child::run_child;

fn pg_advisory_locks(url: &str) -> i64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.query_one(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        &[],
    )
    .unwrap()
    .get(0)
}

fn mysql_lock_owner(url: &str, table: &str) -> Option<i64> {
    let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    c.exec_first::<Option<i64>, _, _>(
        "SELECT IS_USED_LOCK(LEFT(CONCAT('qmq_watchdog:', DATABASE(), '.', ?), 64))",
        (table,),
    )
    .unwrap()
    .flatten()
}

#[test]
fn killed_producer_rows_are_delivered_once_by_one_of_two_watchdogs() {
    let f = Fixture::start();
    let staged = run_child(&f.backends, &f.meta_url());
    let mut want: Vec<Vec<String>> = Vec::new();
    for (b, (dialect, row, id)) in f.backends.iter().zip(&staged) {
        assert_eq!(*dialect, b.dialect);
        assert_eq!(
            b.db.status(*row).unwrap(),
            Some((0, 0)),
            "{dialect}: committed, unsent"
        );
        let mut ids = vec![id.clone()];
        ids.extend(f.insert_rows(b, 30));
        want.push(ids);
    }

    let (mut a, _) = f.spawn_watchdog("watchdog-a", 3000);
    let (mut b, _) = f.spawn_watchdog("watchdog-b", 3000);

    // Exactly one advisory lock (PostgreSQL) and one GET_LOCK owner (MariaDB) for two watchdogs.
    let pg_url = f.postgres.url();
    let maria = &f.backends[2];
    let end = Instant::now() + Duration::from_secs(15);
    while (pg_advisory_locks(&pg_url) == 0
        || mysql_lock_owner(&maria.location, &maria.table).is_none())
        && Instant::now() < end
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..5 {
        assert_eq!(pg_advisory_locks(&pg_url), 1, "one PostgreSQL lock holder");
        assert!(
            mysql_lock_owner(&maria.location, &maria.table).is_some(),
            "a MariaDB lock holder"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    for (backend, ids) in f.backends.iter().zip(&want) {
        let got = f.expect_exactly_once(backend, ids);
        let child_row = staged.iter().find(|s| s.0 == backend.dialect).unwrap();
        let from_child = got
            .iter()
            .find(|m| m.header.message_id == child_row.2)
            .unwrap();
        assert_eq!(
            from_child.attr("qmq_sequence"),
            Some(child_row.1.to_string().as_str())
        );
        assert!(
            backend.db.rows().unwrap().is_empty(),
            "{}: rows deleted",
            backend.dialect
        );
    }

    // Kill one watchdog: the other one (holder or not) delivers what comes next.
    assert!(a.is_running());
    a.kill9();
    let more: Vec<Vec<String>> = f.backends.iter().map(|b| f.insert_rows(b, 5)).collect();
    for (backend, ids) in f.backends.iter().zip(&more) {
        f.expect_exactly_once(backend, ids);
        assert!(backend.db.rows().unwrap().is_empty());
    }
    assert!(b.is_running(), "the surviving watchdog runs");
    assert_eq!(pg_advisory_locks(&pg_url), 1, "the survivor holds the lock");
    assert!(mysql_lock_owner(&maria.location, &maria.table).is_some());
    assert!(b.stop().success());
}
