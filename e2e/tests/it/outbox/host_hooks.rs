//! The hooks host bindings use: the host inserts the row with its own driver and SQL from
//! `insert_sql` + `encode_content`, commits, and hands the row id to the core
//! (`Outbox::send_outboxed` with the message, or `Outbox::send_row` with the id alone).

use std::time::Duration;

use qmq_core::client::transaction::{Dialect, Outbox, OutboxError, encode_content, insert_sql};

use super::support::{Backend, Cluster, unique};

/// Inserts `content` the way a host driver would, in its own committed transaction.
fn host_insert(backend: &Backend, content: &str) -> i64 {
    let sql = insert_sql(
        backend.dialect,
        &backend.table,
        backend.dialect.native_param_style(),
    )
    .unwrap();
    match backend.dialect {
        Dialect::Sqlite => {
            let mut conn = rusqlite::Connection::open(&backend.location).unwrap();
            let tx = conn.transaction().unwrap();
            tx.execute(&sql, [content]).unwrap();
            let id = tx.last_insert_rowid();
            tx.commit().unwrap();
            id
        }
        Dialect::Postgres => {
            let mut conn = postgres::Client::connect(&backend.location, postgres::NoTls).unwrap();
            let mut tx = conn.transaction().unwrap();
            let id: i64 = tx.query_one(&sql, &[&content]).unwrap().get(0);
            tx.commit().unwrap();
            id
        }
        Dialect::MySql => {
            use mysql::prelude::Queryable;
            let mut conn =
                mysql::Conn::new(mysql::Opts::from_url(&backend.location).unwrap()).unwrap();
            let mut tx = conn.start_transaction(mysql::TxOpts::default()).unwrap();
            tx.exec_drop(&sql, (content,)).unwrap();
            let id = tx.last_insert_id().unwrap() as i64;
            tx.commit().unwrap();
            id
        }
    }
}

fn host_rows_are_sent_and_deleted(dialect: Dialect) {
    let cluster = Cluster::start(Vec::new());
    let client = cluster.client();
    let backend = Backend::new(dialect);
    let outbox = Outbox::new(client.producer(), backend.db.clone());
    let subject = unique("tx.host");
    let puller = cluster.puller(&subject);

    let mut with_message = client.producer().generate_message(&subject).unwrap();
    with_message.set_property("via", "send_outboxed").unwrap();
    let row = host_insert(&backend, &encode_content(&with_message));
    let first = with_message.message_id().to_owned();
    let receipt = outbox.send_outboxed(with_message, row).wait().unwrap();
    assert!(receipt.row_deleted);

    let mut by_id = client.producer().generate_message(&subject).unwrap();
    by_id.set_property("via", "send_row").unwrap();
    let second = by_id.message_id().to_owned();
    let row = host_insert(&backend, &encode_content(&by_id));
    let receipt = outbox.send_row(row).wait().unwrap();
    assert_eq!(receipt.receipt.message_id, second);

    // The callback form (JNI, C): called exactly once with the outcome.
    let mut by_callback = client.producer().generate_message(&subject).unwrap();
    by_callback.set_property("via", "on_complete").unwrap();
    let third = by_callback.message_id().to_owned();
    let row = host_insert(&backend, &encode_content(&by_callback));
    let (tx, rx) = std::sync::mpsc::channel();
    outbox
        .send_row(row)
        .on_complete(Box::new(move |result| tx.send(result).unwrap()));
    let receipt = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(receipt.receipt.message_id, third);
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "called once"
    );
    assert!(
        backend.db.rows().unwrap().is_empty(),
        "{dialect}: rows deleted"
    );

    // A row id that was never committed sends nothing.
    let err = outbox.send_row(row + 1000).wait().unwrap_err();
    assert!(matches!(err, OutboxError::NotCommitted { .. }), "{err}");

    let got = cluster.pull(&puller, &subject, 3, Duration::from_secs(15));
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            (
                m.header.message_id.clone(),
                m.attr("via").unwrap_or("").to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (first, "send_outboxed".to_owned()),
        (second, "send_row".to_owned()),
        (third, "on_complete".to_owned()),
    ];
    want.sort();
    assert_eq!(
        seen, want,
        "{dialect}: each exactly once, properties intact"
    );
    client.close(Duration::from_secs(5)).unwrap();
}

#[test]
fn sqlite_host_rows_are_sent_and_deleted() {
    host_rows_are_sent_and_deleted(Dialect::Sqlite);
}

#[test]
fn postgres_host_rows_are_sent_and_deleted() {
    host_rows_are_sent_and_deleted(Dialect::Postgres);
}

#[test]
fn mariadb_host_rows_are_sent_and_deleted() {
    host_rows_are_sent_and_deleted(Dialect::MySql);
}
