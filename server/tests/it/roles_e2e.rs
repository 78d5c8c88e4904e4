//! `qmq-server meta` and `qmq-server broker` as separate processes, configured by files and
//! environment variables: the broker registers itself and clients are routed to it.

use std::time::Duration;

use qmq_core::protocol::ClientType;

use crate::support::client::{TestClient, message, pull_request};
use crate::support::server::ServerProcess;

#[tokio::test]
async fn separate_meta_and_broker_processes_find_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let meta_config = dir.path().join("meta.toml");
    std::fs::write(
        &meta_config,
        "[server]\nhost = \"127.0.0.1\"\n[meta]\nhttp_port = 0\ntcp_port = 0\n",
    )
    .unwrap();
    let meta_dir = dir.path().join("meta");
    let meta = ServerProcess::spawn(
        &meta_dir,
        &[
            "meta".into(),
            "--config".into(),
            meta_config.to_string_lossy().into_owned(),
        ],
        &[(
            "QMQ_SERVER_DATA_DIR",
            meta_dir.to_string_lossy().into_owned(),
        )],
    );

    let broker_config = dir.path().join("broker.toml");
    std::fs::write(
        &broker_config,
        "[server]\nhost = \"127.0.0.1\"\n[broker]\nport = 0\ngroup_name = \"broker-a\"\n",
    )
    .unwrap();
    let broker_dir = dir.path().join("broker");
    let meta_url = format!("http://127.0.0.1:{}/meta/address", meta.ports.meta_http);
    let broker = ServerProcess::spawn(
        &broker_dir,
        &[
            "broker".into(),
            "--config".into(),
            broker_config.to_string_lossy().into_owned(),
        ],
        &[
            (
                "QMQ_SERVER_DATA_DIR",
                broker_dir.to_string_lossy().into_owned(),
            ),
            ("QMQ_SERVER_META_URL", meta_url),
        ],
    );
    assert!(
        broker_dir.join("broker").exists(),
        "broker data under its own data dir"
    );

    let mut meta_client = TestClient::connect(meta.meta_tcp()).await;
    let mut groups = Vec::new();
    for _ in 0..100 {
        groups = meta_client
            .register("sep", ClientType::Producer, "")
            .await
            .broker_groups;
        if !groups.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].group_name, "broker-a");
    assert_eq!(
        groups[0].master,
        format!("127.0.0.1:{}", broker.ports.broker)
    );

    let mut c = TestClient::connect(broker.broker()).await;
    assert!(c.pull(&pull_request("sep", "g", "c", 1, 0)).await.is_none());
    assert!(
        c.send(&[message("sep", "x", &[], &[])])
            .await
            .failures
            .is_empty()
    );
    assert!(
        c.pull(&pull_request("sep", "g", "c", 1, 1000))
            .await
            .is_some()
    );
    assert!(broker.stop().success());
    assert!(meta.stop().success());
}
