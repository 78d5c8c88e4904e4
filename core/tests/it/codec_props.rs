//! Random values roundtrip through every encoder and decoder of the wire codec (spec §2–§5).

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, VERSION_7, VERSION_8, VERSION_9};
use qmq_core::protocol::{
    AckRequest, BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRegisterRequest,
    ClientRegisterRequest, ConsumeManageRequest, Frame, Header, Message, MessageRef,
    MetaInfoResponse, PullMessageResponse, PullRequest, RawMessage, RecordRef, RequestCode,
    SendMessageRequest, SendMessageResponse,
};

use crate::strategies::*;

/// Asserts that `encode` writes `encoded_len` bytes that `decode` turns back into `value`
/// using all of them, and that every strict prefix of those bytes is an error.
fn assert_roundtrip<T: PartialEq + std::fmt::Debug>(
    value: &T,
    encoded_len: usize,
    encode: impl Fn(&T, &mut BytesMut),
    decode: impl Fn(&[u8]) -> Result<(T, usize), qmq_core::protocol::ProtocolError>,
) {
    let mut buf = BytesMut::new();
    encode(value, &mut buf);
    assert_eq!(buf.len(), encoded_len, "encoded_len matches encode");
    let (decoded, used) = decode(&buf).expect("decodes");
    assert_eq!(&decoded, value);
    assert_eq!(used, buf.len());
    for cut in 0..buf.len() {
        assert!(
            decode(&buf[..cut]).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
}

proptest! {
    #[test]
    fn message_record_roundtrips_with_matching_crc(msg in message()) {
        msg.validate().expect("strategy stays within the wire limits");
        let mut buf = BytesMut::new();
        msg.encode_record(&mut buf);
        prop_assert_eq!(buf.len(), msg.record_len());
        let record = buf.freeze();
        let (raw, used) = RawMessage::decode(&record).expect("decodes");
        prop_assert_eq!(used, record.len());
        prop_assert!(raw.crc_matches());
        prop_assert_eq!(&raw.header, &msg.header);
        prop_assert_eq!(&raw.to_message().expect("attrs decode"), &msg);
        let (payload_msg, payload_used) = Message::decode_payload(&raw.payload()).expect("payload");
        prop_assert_eq!(payload_used, msg.payload_len());
        prop_assert_eq!(&payload_msg, &msg);
        let (rec, rec_used) = RecordRef::decode(&record).expect("view decodes");
        prop_assert_eq!(rec_used, record.len());
        prop_assert!(rec.crc_matches());
        prop_assert_eq!(&rec.message().to_message(), &msg);
        prop_assert_eq!(&raw.view().expect("view of raw"), rec.message());
        let payload = raw.payload();
        let (view, view_used) = MessageRef::decode_payload(&payload).expect("payload view");
        prop_assert_eq!(view_used, msg.payload_len());
        prop_assert_eq!(view.attrs().len(), msg.attrs.len());
        prop_assert_eq!(&RawMessage::from_payload(raw.crc(), &raw.payload()).expect("rebuilds"), &raw);
        prop_assert_eq!(&raw.into_message().expect("moves"), &msg);
    }

    #[test]
    fn corrupting_any_record_byte_is_detected(
        msg in small_message(),
        at in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let mut buf = BytesMut::new();
        msg.encode_record(&mut buf);
        let at = at.index(buf.len());
        buf[at] ^= xor;
        let record = buf.freeze();
        // A single corrupted byte is a burst of ≤ 8 bits, which CRC-32 always detects; it may
        // also break the structure, which is an error of its own.
        if let Ok((raw, _)) = RawMessage::decode(&record) {
            prop_assert!(!raw.crc_matches(), "corruption at byte {} went unnoticed", at);
        }
    }

    #[test]
    fn send_batch_roundtrips_through_a_frame(
        messages in vec(small_message(), 0..=30),
        opaque in any::<i32>(),
    ) {
        let mut body = BytesMut::new();
        SendMessageRequest::encode_messages(&messages, &mut body);
        prop_assert_eq!(body.len(), SendMessageRequest::encoded_len_of(&messages));
        let mut wire = BytesMut::new();
        Frame::new(Header::request(RequestCode::SendMessage, VERSION_9, opaque), body.freeze())
            .encode(&mut wire);
        let frame = Frame::decode_from(&mut wire, DEFAULT_MAX_FRAME_LEN)
            .expect("valid frame")
            .expect("complete frame");
        prop_assert!(wire.is_empty());
        let request = SendMessageRequest::decode(&frame.body).expect("decodes");
        prop_assert_eq!(request.messages.len(), messages.len());
        for (raw, msg) in request.messages.iter().zip(&messages) {
            prop_assert!(raw.crc_matches());
            prop_assert_eq!(&raw.to_message().expect("attrs decode"), msg);
        }
        let mut again = BytesMut::new();
        request.encode(&mut again);
        prop_assert_eq!(again.len(), request.encoded_len());
        prop_assert_eq!(again.freeze(), frame.body);
    }

    #[test]
    fn pull_request_v7_roundtrips_without_filters(req in pull_request(Just(Vec::new()))) {
        assert_roundtrip(
            &req,
            req.encoded_len(VERSION_7),
            |r, b| r.encode(VERSION_7, b),
            |s| PullRequest::decode(s, VERSION_7),
        );
    }

    #[test]
    fn pull_request_v8_roundtrips_a_single_tag_filter(req in pull_request(tag_filter().prop_map(|f| vec![f]))) {
        assert_roundtrip(
            &req,
            req.encoded_len(VERSION_8),
            |r, b| r.encode(VERSION_8, b),
            |s| PullRequest::decode(s, VERSION_8),
        );
    }

    #[test]
    fn pull_request_v9_roundtrips_typed_filters(req in pull_request(vec(pull_filter(), 0..=4))) {
        assert_roundtrip(
            &req,
            req.encoded_len(VERSION_9),
            |r, b| r.encode(VERSION_9, b),
            |s| PullRequest::decode(s, VERSION_9),
        );
    }

    #[test]
    fn ack_request_roundtrips_at_v7_and_v9(ack in ack_request()) {
        // v7 has no isBroadcast byte: it decodes as false.
        let v7 = AckRequest { is_broadcast: false, ..ack.clone() };
        assert_roundtrip(
            &v7,
            v7.encoded_len(VERSION_7),
            |a, b| a.encode(VERSION_7, b),
            |s| AckRequest::decode(s, VERSION_7),
        );
        for version in [VERSION_8, VERSION_9] {
            assert_roundtrip(
                &ack,
                ack.encoded_len(version),
                |a, b| a.encode(version, b),
                |s| AckRequest::decode(s, version),
            );
        }
    }

    #[test]
    fn client_register_request_roundtrips(req in client_register_request()) {
        assert_roundtrip(&req, req.encoded_len(), ClientRegisterRequest::encode, ClientRegisterRequest::decode);
    }

    #[test]
    fn meta_info_response_roundtrips(resp in meta_info_response()) {
        assert_roundtrip(&resp, resp.encoded_len(), MetaInfoResponse::encode, MetaInfoResponse::decode);
    }

    #[test]
    fn broker_register_request_roundtrips(req in broker_register_request()) {
        assert_roundtrip(&req, req.encoded_len(), BrokerRegisterRequest::encode, BrokerRegisterRequest::decode);
    }

    #[test]
    fn broker_acquire_meta_roundtrips(
        req in broker_acquire_meta_request(),
        resp in broker_acquire_meta_response(),
    ) {
        assert_roundtrip(&req, req.encoded_len(), BrokerAcquireMetaRequest::encode, BrokerAcquireMetaRequest::decode);
        assert_roundtrip(&resp, resp.encoded_len(), BrokerAcquireMetaResponse::encode, BrokerAcquireMetaResponse::decode);
    }

    #[test]
    fn consume_manage_request_roundtrips(req in consume_manage_request()) {
        assert_roundtrip(&req, req.encoded_len(), ConsumeManageRequest::encode, ConsumeManageRequest::decode);
    }

    #[test]
    fn send_message_response_roundtrips(resp in send_message_response()) {
        // The body is a list without a count: only the whole body is checked, not prefixes.
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        prop_assert_eq!(buf.len(), resp.encoded_len());
        prop_assert_eq!(SendMessageResponse::decode(&buf).expect("decodes"), (resp, buf.len()));
    }

    #[test]
    fn pull_message_response_roundtrips(resp in pull_message_response()) {
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        prop_assert_eq!(buf.len(), resp.encoded_len());
        prop_assert_eq!(PullMessageResponse::decode(&buf).expect("decodes"), (resp.clone(), buf.len()));
        // A server builds the same body from the prefix and stored payloads.
        let mut served = BytesMut::new();
        PullMessageResponse::encode_prefix(resp.pull_log_offset, &mut served);
        for message in &resp.messages {
            message.encode_payload(&mut served);
        }
        let (decoded, _) = PullMessageResponse::decode(&served).expect("decodes");
        prop_assert_eq!(decoded.messages, resp.messages);
        prop_assert_eq!(decoded.consumer_offset, -1);
    }
}

#[test]
fn message_at_every_limit_roundtrips() {
    use qmq_core::protocol::MessageHeader;
    use qmq_core::protocol::codec::MAX_STR16_LEN;
    use qmq_core::protocol::message::{FLAG_DELAY, FLAG_TAGS, MAX_MESSAGE_ID_LEN, MAX_TAGS};
    let msg = Message {
        header: MessageHeader {
            flag: FLAG_TAGS | FLAG_DELAY,
            created_time: i64::MIN,
            expire_or_schedule_time: i64::MAX,
            subject: "s".repeat(MAX_STR16_LEN),
            message_id: "i".repeat(MAX_MESSAGE_ID_LEN),
            tags: (0..MAX_TAGS)
                .map(|i| "t".repeat(MAX_STR16_LEN - i))
                .collect(),
        },
        attrs: vec![("k".repeat(MAX_STR16_LEN), "😀".repeat(MAX_STR16_LEN / 4))],
    };
    msg.validate().expect("at the limits, not past them");
    let mut buf = BytesMut::new();
    msg.encode_record(&mut buf);
    let record: Bytes = buf.freeze();
    let (raw, used) = RawMessage::decode(&record).expect("decodes");
    assert_eq!(used, record.len());
    assert!(raw.crc_matches());
    assert_eq!(raw.to_message().expect("attrs decode"), msg);
}
