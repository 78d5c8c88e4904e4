//! A producer process killed between commit and send: this test binary runs itself as a child
//! that stages and commits one row per database and then exits before sending.

use std::process::Command;

use qmq_core::client::transaction::{DatabaseLocation, Dialect, Outbox, OutboxDatabase};
use qmq_core::client::{Client, ClientConfig};

use super::{Backend, stage_and_commit};

const CHILD_ENV: &str = "QMQ_OUTBOX_CHILD";

/// Runs in the child only (`run_child`); in a normal run it is ignored.
#[test]
#[ignore = "helper: run as a child process by the watchdog tests"]
fn child_commits_then_exits_before_sending() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut config = ClientConfig::new("wd-child");
    config.meta.url = std::env::var("QMQ_OUTBOX_CHILD_META").unwrap();
    let client = Client::new(config).unwrap();
    for line in spec.lines() {
        let mut parts = line.split('|');
        let (dialect, location, table, subject) = (
            parts.next().unwrap().parse::<Dialect>().unwrap(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        let db = OutboxDatabase::new(DatabaseLocation::parse(&location).unwrap(), &table).unwrap();
        let backend = Backend {
            dialect,
            location,
            table,
            subject,
            db: std::sync::Arc::new(db),
        };
        let outbox = Outbox::new(client.producer(), backend.db.clone());
        let message = client
            .producer()
            .generate_message(&backend.subject)
            .unwrap();
        let staged = stage_and_commit(&backend, &outbox, message);
        println!(
            "STAGED {} {} {}",
            backend.dialect,
            staged.row_id(),
            staged.message().message_id()
        );
    }
    // Committed, not sent: the process dies here.
    std::process::exit(0);
}

/// Runs the child over `backends`; returns `(dialect, row id, message id)` per backend.
pub fn run_child(backends: &[Backend], meta_url: &str) -> Vec<(Dialect, i64, String)> {
    let spec: Vec<String> = backends
        .iter()
        .map(|b| format!("{}|{}|{}|{}", b.dialect, b.location, b.table, b.subject))
        .collect();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "watchdog_e2e::child::child_commits_then_exits_before_sending",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, spec.join("\n"))
        .env("QMQ_OUTBOX_CHILD_META", meta_url)
        .output()
        .expect("run the child producer");
    assert!(output.status.success(), "child failed: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let staged: Vec<(Dialect, i64, String)> = stdout
        .lines()
        // The harness prints "test … ... " on the same line as the first one.
        .filter_map(|l| l.split_once("STAGED ").map(|(_, rest)| rest))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_owned(),
            )
        })
        .collect();
    assert_eq!(staged.len(), backends.len(), "child output: {stdout}");
    staged
}
