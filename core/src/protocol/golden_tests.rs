//! The frames of spec §14, captured from the real Java encoders: each is decoded, checked field
//! by field, and re-encoded byte for byte.

use bytes::{Bytes, BytesMut};

use super::command::client_register::keys;
use super::frame::{DEFAULT_MAX_FRAME_LEN, encode_header};
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn frame(bytes: &[u8]) -> Frame {
    let (frame, used) = Frame::decode(bytes, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert_eq!(used, bytes.len());
    let mut again = BytesMut::new();
    frame.encode(&mut again);
    assert_eq!(&again[..], bytes, "frame re-encodes byte for byte");
    frame
}

fn reencode(header: &Header, body: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut b = BytesMut::new();
    body(&mut b);
    let mut out = BytesMut::new();
    encode_header(&mut out, header, b.len());
    out.extend_from_slice(&b);
    out.to_vec()
}

const SEND: &str = "000000c40012dec10ade000a00090000000700000000000a00000000d92fa6e6040000016b1c4a4998000001a20da76fac
000d6f726465722e6368616e676564001d3139303630332e3135343233392e31302e302e302e312e333331362e30010004
706169640000005e000e716d715f65787069726554696d65000d3135353935343836353930303000076f72646572496400
023432000b716d715f617070436f6465000464656d6f000e716d715f63726561746554696d65000d31353539353437373539303030";

#[test]
fn send_message_golden() {
    let bytes = hex(SEND);
    let f = frame(&bytes);
    assert_eq!(f.header, Header::request(RequestCode::SendMessage, 9, 7));
    let req = SendMessageRequest::decode(&f.body).unwrap();
    assert_eq!(req.messages.len(), 1);
    let raw = &req.messages[0];
    assert!(raw.crc_matches());
    assert_eq!(raw.crc(), 0xd92f_a6e6);
    let msg = raw.to_message().unwrap();
    assert_eq!(msg.header.subject, "order.changed");
    assert_eq!(msg.header.message_id, "190603.154239.10.0.0.1.3316.0");
    assert_eq!(msg.header.tags, vec!["paid"]);
    assert_eq!(msg.header.created_time, 1_559_547_759_000);
    assert!(!msg.header.is_delay());
    assert_eq!(msg.attr("orderId"), Some("42"));
    assert_eq!(msg.attr(names::attr::APP_CODE), Some("demo"));
    assert_eq!(msg.attr(names::attr::EXPIRE_TIME), Some("1559548659000"));
    // The borrowed view decodes the same record identically, without the owned path's copies.
    let (rec, used) = RecordRef::decode(&f.body).unwrap();
    assert_eq!(used, f.body.len());
    assert!(rec.crc_matches());
    assert_eq!(rec.crc(), 0xd92f_a6e6);
    assert_eq!(rec.record(), &raw.record[..]);
    let view = rec.message();
    assert_eq!(view.subject(), "order.changed");
    assert_eq!(view.message_id(), "190603.154239.10.0.0.1.3316.0");
    assert_eq!(view.tags(), ["paid"]);
    assert_eq!(view.attr("orderId"), Some("42"));
    assert_eq!(view.payload(), &raw.payload()[..]);
    assert_eq!(view.to_message(), msg);
    assert_eq!(raw.clone().into_message().unwrap(), msg);
    // Re-encoding the decoded message (not the raw bytes) reproduces the frame, CRC included.
    let again = reencode(&f.header, |b| {
        SendMessageRequest::encode_messages(&[msg], b)
    });
    assert_eq!(again, bytes);
}

#[test]
fn delay_send_golden() {
    let bytes = hex(
        "000000a60012dec10ade000a00090000000800000000000a0000000066a8220e020000016b1c4a4998000003bb2cc3d8
        00000d6f726465722e74696d656f7574001d3139303630332e3135343233392e31302e302e302e312e333331362e3100
        000047000e716d715f63726561746554696d65000d313535393534373735393030300017716d715f7363686564756c65
        5265636569766554696d65000d34313032343434383030303030",
    );
    let f = frame(&bytes);
    let req = SendMessageRequest::decode(&f.body).unwrap();
    let msg = req.messages[0].to_message().unwrap();
    assert!(req.messages[0].crc_matches());
    let (rec, _) = RecordRef::decode(&f.body).unwrap();
    assert!(rec.crc_matches() && rec.message().is_delay());
    assert_eq!(rec.message().to_message(), msg);
    assert!(msg.header.is_delay());
    assert_eq!(msg.header.expire_or_schedule_time, 4_102_444_800_000);
    assert!(msg.header.tags.is_empty());
    assert_eq!(
        msg.attr(names::attr::SCHEDULE_RECEIVE_TIME),
        Some("4102444800000")
    );
    let again = reencode(&f.header, |b| {
        SendMessageRequest::encode_messages(&[msg], b)
    });
    assert_eq!(again, bytes);
}

#[test]
fn pull_v9_golden() {
    let bytes = hex(
        "000000660012dec10ade000b00090000000900000000000b000d6f726465722e6368616e676564000267310009686f7374
        404061626300000032ffffffffffffffffffffffffffffffffffffffffffffffff00000000000009c40000000001000100
        0101000470616964",
    );
    let f = frame(&bytes);
    let (req, used) = PullRequest::decode(&f.body, f.header.version).unwrap();
    assert_eq!(used, f.body.len());
    assert_eq!(
        req,
        PullRequest {
            subject: "order.changed".into(),
            group: "g1".into(),
            consumer_id: "host@@abc".into(),
            request_num: 50,
            offset: -1,
            pull_offset_begin: -1,
            pull_offset_last: -1,
            timeout_millis: 2500,
            is_broadcast: false,
            filters: vec![PullFilter::Tag {
                tag_type: TagType::Or,
                tags: vec!["paid".into()]
            }],
        }
    );
    assert_eq!(reencode(&f.header, |b| req.encode(9, b)), bytes);
}

#[test]
fn ack_golden() {
    let bytes = hex(
        "000000430012dec10ade000c00090000000a00000000000c000d6f726465722e6368616e676564000267310009686f7374
        40406162630000000000000064000000000000009500",
    );
    let f = frame(&bytes);
    let (ack, used) = AckRequest::decode(&f.body, f.header.version).unwrap();
    assert_eq!(used, f.body.len());
    assert_eq!((ack.pull_offset_begin, ack.pull_offset_last), (100, 149));
    assert!(!ack.is_broadcast && !ack.is_heartbeat());
    assert_eq!(reencode(&f.header, |b| ack.encode(9, b)), bytes);
}

#[test]
fn client_register_golden() {
    let bytes = hex(
        "000000880012dec10ade002300090000000000000000002300060008636c69656e7449640009686f73744040616263000e
        636c69656e7454797065436f6465000132000b726571756573745479706500013100077375626a656374000d6f72646572
        2e6368616e6765640007617070436f6465000464656d6f000d636f6e73756d657247726f757000026731",
    );
    let f = frame(&bytes);
    assert_eq!(f.header.code, RequestCode::ClientRegister.as_i16());
    let (req, used) = ClientRegisterRequest::decode(&f.body).unwrap();
    assert_eq!(used, f.body.len());
    assert_eq!(req.client_type(), ClientType::Consumer);
    assert_eq!(req.request_type(), ClientRequestType::Online);
    assert_eq!(req.subject(), "order.changed");
    assert_eq!(req.consumer_group(), "g1");
    assert_eq!(req.client_id(), "host@@abc");
    assert_eq!(req.get(keys::APP_CODE), Some("demo"));
    assert_eq!(reencode(&f.header, |b| req.encode(b)), bytes);
}

#[test]
fn broker_register_and_acquire_meta_golden() {
    let bytes = hex(
        "0000003a0012dec10ade001e00080000000300000000ffff00000001000862726f6b65722d30000e31302e302e302e313a32303838310000000000000001",
    );
    let f = frame(&bytes);
    assert_eq!((f.header.version, f.header.request_code), (8, -1));
    let (req, _) = BrokerRegisterRequest::decode(&f.body).unwrap();
    assert_eq!(
        req,
        BrokerRegisterRequest {
            request_type: BrokerRequestType::Heartbeat,
            group_name: "broker-0".into(),
            broker_address: "10.0.0.1:20881".into(),
            broker_role: BrokerRole::Master,
            broker_state: BrokerState::Rw,
        }
    );
    assert_eq!(reencode(&f.header, |b| req.encode(b)), bytes);

    let bytes =
        hex("000000250012dec10ade002800080000000400000000ffff000b62726f6b65722d686f737400005191");
    let f = frame(&bytes);
    let (req, _) = BrokerAcquireMetaRequest::decode(&f.body).unwrap();
    assert_eq!(
        (req.hostname.as_str(), req.serve_port),
        ("broker-host", 20881)
    );
    assert_eq!(reencode(&f.header, |b| req.encode(b)), bytes);
}

#[test]
fn response_bodies_golden() {
    let body = hex("000862726f6b65722d30000e31302e302e302e313a323038383200000001");
    let (resp, used) = BrokerAcquireMetaResponse::decode(&body).unwrap();
    assert_eq!(used, body.len());
    assert_eq!(
        (resp.group_name.as_str(), resp.master.as_str(), resp.role),
        ("broker-0", "10.0.0.1:20882", BrokerRole::Slave)
    );
    let mut again = BytesMut::new();
    resp.encode(&mut again);
    assert_eq!(&again[..], &body[..]);

    let body = hex(
        "0000016b1c4a4998000d6f726465722e6368616e6765640002673100020001000862726f6b65722d30000e31302e302e302e313a32303838310000016b1c49632001",
    );
    let (meta, used) = MetaInfoResponse::decode(&body).unwrap();
    assert_eq!(used, body.len());
    assert_eq!(meta.subject, "order.changed");
    assert_eq!(meta.consumer_group, "g1");
    assert_eq!(meta.on_offline_state, OnOfflineState::Online);
    assert_eq!(meta.client_type, ClientType::Consumer);
    assert_eq!(meta.broker_groups.len(), 1);
    assert_eq!(meta.broker_groups[0].master, "10.0.0.1:20881");
    assert_eq!(meta.broker_groups[0].state, BrokerState::Rw);
    let mut again = BytesMut::new();
    meta.encode(&mut again);
    assert_eq!(&again[..], &body[..]);

    let body = hex(
        "001d3139303630332e3135343233392e31302e302e302e312e333331362e3000000004001042524f4b45522052454144204f4e4c59",
    );
    let (send, used) = SendMessageResponse::decode(&body).unwrap();
    assert_eq!(used, body.len());
    assert_eq!(
        send.failures[0].code,
        MessageProducerCode::BrokerReadOnly.as_i32()
    );
    assert_eq!(send.failures[0].remark, "BROKER READ ONLY");
    let mut again = BytesMut::new();
    send.encode(&mut again);
    assert_eq!(&again[..], &body[..]);
}

#[test]
fn pull_response_carries_stored_payloads() {
    // A broker answers a pull with the SEND payloads minus their CRC.
    let f = frame(&hex(SEND));
    let req = SendMessageRequest::decode(&f.body).unwrap();
    let mut body = BytesMut::new();
    PullMessageResponse::encode_prefix(100, &mut body);
    body.extend_from_slice(&req.messages[0].payload());
    let body: Bytes = body.freeze();
    let (resp, _) = PullMessageResponse::decode(&body).unwrap();
    assert_eq!(resp.pull_log_offset, 100);
    assert_eq!(resp.messages[0], req.messages[0].to_message().unwrap());
}
