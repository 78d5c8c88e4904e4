//! The handlers through [`Broker`]'s `FrameHandler` implementation, without TCP.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use qmq_core::protocol::frame::{VERSION_8, VERSION_9};
use qmq_core::protocol::{
    AckRequest, ConsumeFromWhere, ConsumeManageRequest, Frame, Header, Message,
    MessageProducerCode, PullMessageResponse, PullRequest, RequestCode, ResponseCode,
    SendMessageRequest, SendMessageResponse,
};

use crate::broker::{Broker, BrokerConfig};
use crate::net::FrameHandler;

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

fn message(subject: &str, id: &str) -> Message {
    let mut m = Message::default();
    m.header.subject = subject.into();
    m.header.message_id = id.into();
    m.set_attr("k", "v");
    m
}

fn frame(code: RequestCode, version: i16, body: BytesMut) -> Frame {
    Frame::new(Header::request(code, version, 7), body.freeze())
}

fn pull_frame(subject: &str, version: i16) -> Frame {
    let req = PullRequest {
        subject: subject.into(),
        group: "g".into(),
        consumer_id: "c".into(),
        request_num: 10,
        offset: -1,
        pull_offset_begin: -1,
        pull_offset_last: -1,
        timeout_millis: 0,
        is_broadcast: false,
        filters: Vec::new(),
    };
    let mut body = BytesMut::new();
    req.encode(version, &mut body);
    frame(RequestCode::PullMessage, version, body)
}

fn open() -> (tempfile::TempDir, Broker) {
    let dir = tempfile::tempdir().unwrap();
    let config = BrokerConfig {
        message_segment_bytes: 1 << 20,
        consume_log_units_per_segment: 1024,
        pull_log_units_per_segment: 1024,
        ..BrokerConfig::default()
    };
    let broker = Broker::open(config, dir.path()).unwrap();
    (dir, broker)
}

#[tokio::test]
async fn send_reports_only_failures_and_pull_returns_stored_bytes() {
    let (_dir, broker) = open();
    let reply = broker
        .handle(pull_frame("s", VERSION_9), peer())
        .await
        .unwrap();
    assert_eq!(reply.header.code, ResponseCode::NoMessage.as_i16());
    assert_eq!(reply.header.opaque, 7);

    let good = message("s", "good");
    let bad_subject = message("bad subject", "bad-subject");
    let mut body = BytesMut::new();
    SendMessageRequest::encode_messages(&[good.clone(), bad_subject], &mut body);
    // A record whose CRC is wrong.
    let mut corrupt = BytesMut::new();
    message("s", "bad-crc").encode_record(&mut corrupt);
    corrupt[7] ^= 1;
    body.put_slice(&corrupt);
    let reply = broker
        .handle(frame(RequestCode::SendMessage, VERSION_9, body), peer())
        .await
        .unwrap();
    assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
    let (response, _) = SendMessageResponse::decode(&reply.body).unwrap();
    let failures: Vec<(String, i32)> = response
        .failures
        .into_iter()
        .map(|f| (f.message_id, f.code))
        .collect();
    assert_eq!(
        failures,
        [
            (
                "bad-subject".to_owned(),
                MessageProducerCode::SubjectNotAssigned.as_i32()
            ),
            (
                "bad-crc".to_owned(),
                MessageProducerCode::StoreError.as_i32()
            )
        ]
    );

    let reply = broker
        .handle(pull_frame("s", VERSION_9), peer())
        .await
        .unwrap();
    assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
    let (pulled, _) = PullMessageResponse::decode(&reply.body).unwrap();
    assert_eq!(pulled.pull_log_offset, 0);
    assert_eq!(pulled.messages, [good]);

    let ack = AckRequest {
        subject: "s".into(),
        group: "g".into(),
        consumer_id: "c".into(),
        pull_offset_begin: 0,
        pull_offset_last: 0,
        is_broadcast: false,
    };
    let mut body = BytesMut::new();
    ack.encode(VERSION_9, &mut body);
    let reply = broker
        .handle(frame(RequestCode::AckRequest, VERSION_9, body), peer())
        .await
        .unwrap();
    assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
    broker.shutdown().unwrap();
}

#[tokio::test]
async fn garbage_bodies_get_error_codes() {
    let (_dir, broker) = open();
    let garbage = || BytesMut::from(&[1u8, 2, 3][..]);
    for (code, expected) in [
        (RequestCode::SendMessage, ResponseCode::BrokerError),
        (RequestCode::PullMessage, ResponseCode::BrokerError),
        (RequestCode::AckRequest, ResponseCode::BrokerError),
        (RequestCode::ConsumeManage, ResponseCode::ParamError),
    ] {
        let reply = broker
            .handle(frame(code, VERSION_9, garbage()), peer())
            .await
            .unwrap();
        assert_eq!(reply.header.code, expected.as_i16(), "{code:?}");
        assert_eq!(reply.header.request_code, code.as_i16());
    }
    assert!(!broker.accepts(RequestCode::ClientRegister));
    assert!(broker.accepts(RequestCode::ConsumeManage));
}

#[tokio::test]
async fn consume_manage_resets_to_earliest() {
    let (_dir, broker) = open();
    let mut body = BytesMut::new();
    SendMessageRequest::encode_messages(&[message("s", "m0")], &mut body);
    broker
        .handle(frame(RequestCode::SendMessage, VERSION_9, body), peer())
        .await
        .unwrap();
    let manage = ConsumeManageRequest {
        subject: "s".into(),
        group: "g".into(),
        consume_from_where: ConsumeFromWhere::Earliest,
    };
    let mut body = BytesMut::new();
    manage.encode(&mut body);
    let reply = broker
        .handle(frame(RequestCode::ConsumeManage, VERSION_8, body), peer())
        .await
        .unwrap();
    assert_eq!(reply.header.code, ResponseCode::Success.as_i16());
    let reply = broker
        .handle(pull_frame("s", VERSION_8), peer())
        .await
        .unwrap();
    let (pulled, _) = PullMessageResponse::decode(&reply.body).unwrap();
    assert_eq!(pulled.messages.len(), 1);
    let _: Bytes = reply.body;
}
