//! Meta discovery and routing through the binary.

use qmq_core::protocol::{BrokerState, ClientType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client::TestClient;
use crate::support::server::ServerProcess;

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn meta_address_points_at_the_meta_tcp_port() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let reply = http_get(server.meta_http(), "/meta/address").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let body = reply.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(body, format!("127.0.0.1:{}", server.ports.meta_tcp));
    let missing = http_get(server.meta_http(), "/nope").await;
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

#[tokio::test]
async fn producers_and_consumers_are_routed_to_the_registered_broker() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut meta = TestClient::connect(server.meta_tcp()).await;
    // The broker registers itself shortly after start; poll until it is routable.
    let mut groups = Vec::new();
    for _ in 0..100 {
        groups = meta
            .register("order.created", ClientType::Producer, "")
            .await
            .broker_groups;
        if !groups.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(groups.len(), 1, "one broker group in standalone");
    assert_eq!(
        groups[0].master,
        format!("127.0.0.1:{}", server.ports.broker)
    );
    assert_eq!(groups[0].state, BrokerState::Rw);
    let consumer = meta
        .register("%RETRY%order.created%g1", ClientType::Consumer, "g1")
        .await;
    assert_eq!(
        consumer.broker_groups, groups,
        "retry subjects route by the real subject"
    );
    let invalid = meta.register("bad subject", ClientType::Producer, "").await;
    assert_eq!(invalid.timestamp, -2);
    assert!(invalid.broker_groups.is_empty());
}
