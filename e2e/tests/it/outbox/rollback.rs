//! Rollback ⇒ no row and nothing sent, even if the caller asks to send.

use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox, OutboxError};

use super::support::{Backend, Cluster, unique};

fn rolled_back_message_is_never_sent(dialect: Dialect) {
    let cluster = Cluster::start(Vec::new());
    let client = cluster.client();
    let backend = Backend::new(dialect);
    let outbox = Outbox::new(client.producer(), backend.db.clone());
    let subject = unique("tx.rollback");
    let puller = cluster.puller(&subject);

    let message = client.producer().generate_message(&subject).unwrap();
    let staged = backend.stage(&outbox, message, false);
    let row = staged.row_id();
    let err = staged.send_after_commit().wait().unwrap_err();
    assert!(
        matches!(err, OutboxError::NotCommitted { row_id } if row_id == row),
        "{dialect}: {err}"
    );
    assert!(
        backend.db.rows().unwrap().is_empty(),
        "no row after rollback"
    );
    assert_eq!(backend.business_rows(), 0, "business write rolled back");

    // A control message proves the subject is deliverable, so "nothing" above means something.
    let control = client.producer().generate_message(&subject).unwrap();
    let control_id = control.message_id().to_owned();
    client.producer().send_blocking(control).unwrap();
    let got = cluster.pull(&puller, &subject, 1, Duration::from_secs(10));
    let ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [control_id.as_str()],
        "{dialect}: only the control message"
    );
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn sqlite_rollback_sends_nothing() {
    rolled_back_message_is_never_sent(Dialect::Sqlite);
}

#[test]
fn postgres_rollback_sends_nothing() {
    rolled_back_message_is_never_sent(Dialect::Postgres);
}

#[test]
fn mariadb_rollback_sends_nothing() {
    rolled_back_message_is_never_sent(Dialect::MySql);
}
