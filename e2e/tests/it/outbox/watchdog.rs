//! Rows whose producer never sent them (it crashed between commit and send, or forgot) are
//! delivered by the watchdog running in `standalone`, with `qmq_sequence = id` — including a
//! row exactly as QMQ's Java client writes it. Bad rows are marked -2 and never sent.

use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox, status};

use super::support::{Backend, Cluster, unique};

/// A row as QMQ's Java client writes it (Gson, longs as strings, an int and a bool property).
fn java_row(subject: &str) -> String {
    format!(
        r#"{{"messageId":"190603.154239.100.80.128.160.3316.7","subject":"{subject}","tags":["paid"],"storeAtFailed":false,"durable":true,"attrs":{{"qmq_appCode":"shop","qmq_createTime":"1559547759000","qmq_expireTime":"1559548659000","orderId":"42","count":3,"vip":true}}}}"#
    )
}

fn watchdog_delivers_rows_left_behind(dialect: Dialect) {
    let backend = Backend::new(dialect);
    let cluster = Cluster::start(vec![backend.watched()]);
    let client = cluster.client();
    let outbox = Outbox::new(client.producer(), backend.db.clone());
    let subject = unique("tx.watchdog");
    let puller = cluster.puller(&subject);

    // Committed, never sent: the Staged handle is dropped, as if the process had died.
    let message = client.producer().generate_message(&subject).unwrap();
    let rust_id = message.message_id().to_owned();
    let rust_row = backend.stage(&outbox, message, true).row_id();
    let java_row_id = backend.db.insert(&java_row(&subject)).unwrap();
    let bad_row = backend.db.insert("{not json").unwrap();

    let got = cluster.pull(&puller, &subject, 2, Duration::from_secs(20));
    let mut ids: Vec<&str> = got.iter().map(|m| m.header.message_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![rust_id.as_str(), "190603.154239.100.80.128.160.3316.7"];
    want.sort_unstable();
    assert_eq!(ids, want, "{dialect}: each row delivered exactly once");
    for m in &got {
        let row = if m.header.message_id == rust_id {
            rust_row
        } else {
            java_row_id
        };
        assert_eq!(m.attr("qmq_sequence"), Some(row.to_string().as_str()));
    }
    let java = got.iter().find(|m| m.header.message_id != rust_id).unwrap();
    assert_eq!(java.header.tags, ["paid"]);
    assert_eq!(java.attr("orderId"), Some("42"));
    assert_eq!(java.attr("count"), Some("3"));
    assert_eq!(java.attr("vip"), Some("true"));
    assert_eq!(java.attr("qmq_appCode"), Some("shop"));

    let rows = backend.db.rows().unwrap();
    assert_eq!(
        rows.len(),
        1,
        "{dialect}: only the bad row is left: {rows:?}"
    );
    assert_eq!(
        (rows[0].id, rows[0].status, rows[0].error),
        (bad_row, status::INVALID, 1)
    );
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn sqlite_watchdog_delivers_rows_left_behind() {
    watchdog_delivers_rows_left_behind(Dialect::Sqlite);
}

#[test]
fn postgres_watchdog_delivers_rows_left_behind() {
    watchdog_delivers_rows_left_behind(Dialect::Postgres);
}

#[test]
fn mariadb_watchdog_delivers_rows_left_behind() {
    watchdog_delivers_rows_left_behind(Dialect::MySql);
}
