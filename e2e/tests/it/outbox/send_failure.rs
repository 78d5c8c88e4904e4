//! A send that fails after commit leaves the row (error counted) for the watchdog, which
//! delivers it once a broker is reachable.

use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox, OutboxError, RowFate};
use qmq_core::client::{Client, ClientConfig};

use super::support::{Backend, Cluster, unique};

fn failed_send_leaves_the_row_for_the_watchdog(dialect: Dialect) {
    let backend = Backend::new(dialect);
    // Nothing listens on the meta URL: every send fails.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = ClientConfig::new("e2e-outbox");
    config.meta.url = format!("http://127.0.0.1:{dead_port}/meta/address");
    config.producer.send_tries = 2;
    config.producer.send_timeout = Duration::from_secs(1);
    let client = Client::new(config).unwrap();
    let outbox = Outbox::new(client.producer(), backend.db.clone());
    let subject = unique("tx.fail");
    let message = client.producer().generate_message(&subject).unwrap();
    let id = message.message_id().to_owned();
    let staged = backend.stage(&outbox, message, true);
    let row = staged.row_id();
    let err = staged.send_after_commit().wait().unwrap_err();
    assert!(
        matches!(err, OutboxError::Send { row: RowFate::LeftForWatchdog, row_id, .. } if row_id == row),
        "{dialect}: {err}"
    );
    assert_eq!(
        backend.db.status(row).unwrap(),
        Some((0, 1)),
        "pending, one error"
    );
    client.close(Duration::from_secs(5)).unwrap();

    // A cluster with a watchdog over this database delivers it.
    let cluster = Cluster::start(vec![backend.watched()]);
    let puller = cluster.puller(&subject);
    let got = cluster.pull(&puller, &subject, 1, Duration::from_secs(20));
    let ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [id.as_str()],
        "{dialect}: delivered once by the watchdog"
    );
    assert_eq!(got[0].attr("qmq_sequence"), Some(row.to_string().as_str()));
    assert!(
        backend.db.rows().unwrap().is_empty(),
        "row deleted by the watchdog"
    );
}

#[test]
fn sqlite_send_failure_leaves_the_row() {
    failed_send_leaves_the_row_for_the_watchdog(Dialect::Sqlite);
}

#[test]
fn postgres_send_failure_leaves_the_row() {
    failed_send_leaves_the_row_for_the_watchdog(Dialect::Postgres);
}

#[test]
fn mariadb_send_failure_leaves_the_row() {
    failed_send_leaves_the_row_for_the_watchdog(Dialect::MySql);
}
