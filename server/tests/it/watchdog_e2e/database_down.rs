//! PostgreSQL and MariaDB go down under a running watchdog: it logs clear errors, keeps
//! serving the SQLite database, and delivers every row once the servers are back.

use std::time::{Duration, Instant};

use super::Fixture;

/// Whether one line of `text` contains every one of `needles`.
fn has_line(text: &str, needles: &[&str]) -> bool {
    text.lines()
        .any(|line| needles.iter().all(|n| line.contains(n)))
}

/// Waits until one line of `log` contains every one of `needles`; returns the whole log.
fn wait_for_log(log: &std::path::Path, needles: &[&str], within: Duration) -> String {
    let end = Instant::now() + within;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if has_line(&text, needles) || Instant::now() >= end {
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
    let pg_addr = format!("127.0.0.1:{}", f.postgres.port());
    let maria_addr = format!("127.0.0.1:{}", f.mariadb.port());
    f.postgres.stop();
    f.mariadb.stop();

    for addr in [&pg_addr, &maria_addr] {
        let failed = ["outbox scan failed", addr.as_str(), "Connection refused"];
        let text = wait_for_log(&log, &failed, Duration::from_secs(15));
        assert!(
            has_line(&text, &failed),
            "a clear error naming the database and the cause:\n{text}"
        );
    }
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
    for addr in [&pg_addr, &maria_addr] {
        let back = ["outbox database reachable again", addr.as_str()];
        let text = wait_for_log(&log, &back, Duration::from_secs(5));
        assert!(has_line(&text, &back), "{text}");
    }
    assert!(watchdog.is_running());
    assert!(watchdog.stop().success());
}
