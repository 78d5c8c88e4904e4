//! PostgreSQL and MariaDB go down under a running watchdog: it logs clear errors, keeps
//! serving the SQLite database, and delivers every row once the servers are back.

use std::time::{Duration, Instant};

use super::Fixture;

fn wait_for_log(log: &std::path::Path, needle: &str, within: Duration) -> String {
    let end = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) || Instant::now() >= end {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn watchdog_survives_databases_going_down_and_loses_nothing() {
    let mut f = Fixture::start();
    let (mut watchdog, log) = f.spawn_watchdog("watchdog", 3000);
    let (sqlite, pg, maria) = (&f.backends[0], &f.backends[1], &f.backends[2]);

    // Committed rows, then the servers die before the rows are due.
    let pg_ids = f.insert_rows(pg, 10);
    let maria_ids = f.insert_rows(maria, 10);
    let pg_port = f.postgres.port();
    f.postgres.stop();
    f.mariadb.stop();

    let text = wait_for_log(
        &log,
        &format!("127.0.0.1:{pg_port}"),
        Duration::from_secs(15),
    );
    assert!(
        text.contains("outbox scan failed") && text.contains(&format!("127.0.0.1:{pg_port}")),
        "a clear error naming the database:\n{text}"
    );
    assert!(watchdog.is_running(), "the watchdog keeps running");

    // The SQLite database is served meanwhile.
    let sqlite_ids = f.insert_rows(sqlite, 5);
    f.expect_exactly_once(sqlite, &sqlite_ids);

    f.postgres.start().expect("restart PostgreSQL");
    f.mariadb.start().expect("restart MariaDB");
    f.expect_exactly_once(pg, &pg_ids);
    f.expect_exactly_once(maria, &maria_ids);
    for b in &f.backends {
        assert!(
            b.db.rows().unwrap().is_empty(),
            "{}: rows deleted",
            b.dialect
        );
    }
    let text = wait_for_log(
        &log,
        "outbox database reachable again",
        Duration::from_secs(5),
    );
    assert!(text.contains("outbox database reachable again"), "{text}");
    assert!(watchdog.is_running());
    assert!(watchdog.stop().success());
}
