//! Commit ⇒ the message is delivered exactly once and its row is deleted.

use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox};

use super::support::{Backend, Cluster, unique};

fn committed_message_is_delivered_once_and_its_row_deleted(dialect: Dialect) {
    let cluster = Cluster::start(Vec::new());
    let client = cluster.client();
    let backend = Backend::new(dialect);
    let outbox = Outbox::new(client.producer(), backend.db.clone());
    let subject = unique("tx.commit");
    let puller = cluster.puller(&subject);

    let mut message = client.producer().generate_message(&subject).unwrap();
    message.set_property("order", "42").unwrap();
    let first_id = message.message_id().to_owned();
    let staged = backend.stage(&outbox, message, true);
    let row = staged.row_id();
    let receipt = staged
        .send_after_commit()
        .wait()
        .expect("sent after commit");
    assert_eq!(receipt.row_id, row);
    assert!(receipt.row_deleted);
    assert_eq!(backend.db.status(row).unwrap(), None, "row deleted");
    assert_eq!(backend.business_rows(), 1, "business write committed");

    // The one-call form: the outbox commits the caller's transaction, then sends.
    let message = client.producer().generate_message(&subject).unwrap();
    let second_id = message.message_id().to_owned();
    let receipt = backend
        .stage_commit_and_send(&outbox, message)
        .wait()
        .expect("commit_and_send");
    assert!(receipt.row_deleted);
    assert!(backend.db.rows().unwrap().is_empty(), "no rows left");

    let got = cluster.pull(&puller, &subject, 2, Duration::from_secs(15));
    let mut ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![first_id.as_str(), second_id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "{dialect}: each message exactly once");
    let first = got
        .iter()
        .find(|m| m.header.message_id == first_id)
        .unwrap();
    assert_eq!(first.attr("order"), Some("42"));
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn sqlite_commit_delivers_once_and_deletes_the_row() {
    committed_message_is_delivered_once_and_its_row_deleted(Dialect::Sqlite);
}

#[test]
fn postgres_commit_delivers_once_and_deletes_the_row() {
    committed_message_is_delivered_once_and_its_row_deleted(Dialect::Postgres);
}

#[test]
fn mariadb_commit_delivers_once_and_deletes_the_row() {
    committed_message_is_delivered_once_and_its_row_deleted(Dialect::MySql);
}
