//! Misbehaving clients beside a good one, against the binary.

use bytes::BytesMut;
use qmq_core::protocol::frame::VERSION_9;
use qmq_core::protocol::{Frame, Header, RequestCode};

use crate::support::client::{TestClient, message, pull_request};
use crate::support::server::ServerProcess;

#[tokio::test]
async fn bad_clients_do_not_disturb_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &[]);
    let mut good = TestClient::connect(server.broker()).await;
    assert!(
        good.pull(&pull_request("ok", "g", "c", 1, 0))
            .await
            .is_none()
    );

    // Wrong magic: the connection is closed.
    let mut bad = TestClient::connect(server.broker()).await;
    bad.write_raw(&[
        0, 0, 0, 20, 0, 18, 1, 2, 3, 4, 0, 10, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 10,
    ])
    .await;
    assert!(bad.read_frame().await.is_none());

    // A length past the frame limit: closed before any body is buffered.
    let mut huge = TestClient::connect(server.broker()).await;
    huge.write_raw(&[0x7f, 0xff, 0xff, 0xff, 0, 18, 0xde, 0xc1, 0x0a, 0xde])
        .await;
    assert!(huge.read_frame().await.is_none());

    // Unknown code: UNKNOWN_CODE, and the connection stays usable.
    let mut odd = TestClient::connect(server.broker()).await;
    let reply = odd.request_code(777).await;
    assert_eq!(reply.header.code, 3);

    // A SEND whose body is garbage: BROKER_ERROR, not a crash.
    let reply = odd
        .request(
            RequestCode::SendMessage,
            VERSION_9,
            BytesMut::from(&[1u8, 2, 3][..]),
        )
        .await;
    assert_eq!(reply.header.code, 51);

    // Invalid subject in PULL: NO_MESSAGE; in SEND: a per-message failure.
    assert!(
        odd.pull(&pull_request("bad subject", "g", "c", 1, 0))
            .await
            .is_none()
    );
    let failures = odd
        .send(&[message("bad/subject", "x", &[], &[])])
        .await
        .failures;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].code, 3);

    // A truncated frame followed by a hang-up.
    let mut cut = TestClient::connect(server.broker()).await;
    let mut buf = BytesMut::new();
    Frame::new(
        Header::request(RequestCode::PullMessage, VERSION_9, 1),
        vec![0u8; 40],
    )
    .encode(&mut buf);
    cut.write_raw(&buf[..30]).await;
    drop(cut);

    // The good client is still served.
    assert!(
        good.send(&[message("ok", "fine", &[], &[])])
            .await
            .failures
            .is_empty()
    );
    let got = good
        .pull(&pull_request("ok", "g", "c", 1, 1000))
        .await
        .expect("message");
    assert_eq!(got.messages[0].header.message_id, "fine");
}
