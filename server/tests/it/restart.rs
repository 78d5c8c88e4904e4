//! Durability through restarts and crashes of the binary.

use crate::broker_e2e::{config_file, pull_n};
use crate::support::client::{TestClient, ack_request, message, pull_request};
use crate::support::server::ServerProcess;

#[tokio::test]
async fn restart_keeps_messages_and_consumer_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::start(&data, &[]);
    let ports = server.ports;
    let mut c = TestClient::connect(server.broker()).await;
    assert!(c.pull(&pull_request("d", "g", "c", 1, 0)).await.is_none());
    let msgs: Vec<_> = (0..10)
        .map(|i| message("d", &format!("m{i}"), &[], &[]))
        .collect();
    assert!(c.send(&msgs).await.failures.is_empty());
    let first = pull_n(&mut c, "d", "g", "c", 4).await;
    assert_eq!(first.len(), 4);
    assert_eq!(c.ack(&ack_request("d", "g", "c", 0, 3)).await, 0);
    drop(c);
    assert!(server.stop().success(), "clean exit on SIGTERM");

    let server = ServerProcess::start_with_ports(&data, &[], Some(ports));
    let mut c = TestClient::connect(server.broker()).await;
    let rest = pull_n(&mut c, "d", "g", "c", 6).await;
    let ids: Vec<_> = rest
        .iter()
        .map(|(_, m)| m.header.message_id.clone())
        .collect();
    assert_eq!(ids, ["m4", "m5", "m6", "m7", "m8", "m9"]);
    assert_eq!(rest[0].0, 4, "pull offsets continue after the restart");
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_message_in_sync_flush_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = config_file(dir.path(), "flush = \"sync\"\n");
    let server = ServerProcess::start(&data, &["--config", &config]);
    let ports = server.ports;
    let mut c = TestClient::connect(server.broker()).await;
    assert!(c.pull(&pull_request("k", "g", "c", 1, 0)).await.is_none());
    let mut acknowledged = Vec::new();
    for batch in 0..50 {
        let msgs: Vec<_> = (0..20)
            .map(|i| {
                message(
                    "k",
                    &format!("m{batch}-{i}"),
                    &[],
                    &[("pad", &"x".repeat(100))],
                )
            })
            .collect();
        assert!(c.send(&msgs).await.failures.is_empty());
        acknowledged.extend(msgs.into_iter().map(|m| m.header.message_id));
    }
    server.kill9();

    let server = ServerProcess::start_with_ports(&data, &["--config", &config], Some(ports));
    let mut c = TestClient::connect(server.broker()).await;
    let got = pull_n(&mut c, "k", "g", "c", acknowledged.len()).await;
    let ids: Vec<_> = got.into_iter().map(|(_, m)| m.header.message_id).collect();
    assert_eq!(ids, acknowledged);
}
