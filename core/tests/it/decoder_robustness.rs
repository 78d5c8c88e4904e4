//! Arbitrary bytes never make a decoder panic, and whatever a decoder accepts re-encodes to
//! bytes that decode to the same value. This is the in-tree twin of the `frame_decoder` fuzz
//! target in `core/fuzz/`, run on every `cargo test`.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use qmq_core::protocol::frame::{VERSION_7, VERSION_8, VERSION_9};
use qmq_core::protocol::{
    AckRequest, BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRegisterRequest,
    ClientRegisterRequest, ConsumeManageRequest, Frame, Message, MessageRef, MetaInfoResponse,
    ProtocolError, PullMessageResponse, PullRequest, RawMessage, RecordRef, SendMessageRequest,
    SendMessageResponse,
};

use crate::strategies::*;

/// A small limit, so that random length fields are often complete or over the limit.
const MAX_FRAME_LEN: usize = 4096;

/// If `first` decoded, re-encodes it and checks that the bytes decode to an equal value.
fn assert_reencodes<T: PartialEq + std::fmt::Debug>(
    first: Result<(T, usize), ProtocolError>,
    input_len: usize,
    encode: impl Fn(&T, &mut BytesMut),
    decode: impl Fn(&[u8]) -> Result<(T, usize), ProtocolError>,
) {
    let Ok((value, used)) = first else { return };
    assert!(used <= input_len, "used {used} of {input_len} bytes");
    let mut buf = BytesMut::new();
    encode(&value, &mut buf);
    let (again, again_used) = decode(&buf).expect("a re-encoded value decodes");
    assert_eq!(again, value);
    assert_eq!(again_used, buf.len());
}

/// Feeds `body` to every body decoder.
fn check_body(body: &Bytes, header_version: i16) {
    if let Ok(req) = SendMessageRequest::decode(body) {
        let mut again = BytesMut::new();
        req.encode(&mut again);
        assert_eq!(&again[..], &body[..], "SEND records are forwarded verbatim");
        for raw in &req.messages {
            let _ = raw.crc_matches();
            if let Ok(msg) = raw.to_message() {
                let mut record = BytesMut::new();
                msg.encode_record(&mut record);
                let (back, _) = RawMessage::decode(&record.freeze()).expect("re-encoded record");
                assert!(back.crc_matches());
                assert_eq!(back.to_message().expect("re-encoded attrs"), msg);
            }
        }
    }
    // The borrowed view accepts exactly what the owned path accepts, with the same errors.
    let owned =
        RawMessage::decode(body).and_then(|(raw, used)| Ok((raw.crc(), raw.to_message()?, used)));
    let view =
        RecordRef::decode(body).map(|(rec, used)| (rec.crc(), rec.message().to_message(), used));
    assert_eq!(view, owned, "record view agrees with RawMessage");
    assert_eq!(
        MessageRef::decode_payload(body).map(|(v, used)| (v.to_message(), used)),
        Message::decode_payload(body),
        "payload view agrees with Message"
    );
    for version in [VERSION_7, VERSION_8, VERSION_9, header_version] {
        assert_reencodes(
            PullRequest::decode(body, version),
            body.len(),
            |r, b| r.encode(version, b),
            |s| PullRequest::decode(s, version),
        );
        assert_reencodes(
            AckRequest::decode(body, version),
            body.len(),
            |a, b| a.encode(version, b),
            |s| AckRequest::decode(s, version),
        );
    }
    let len = body.len();
    assert_reencodes(
        ClientRegisterRequest::decode(body),
        len,
        ClientRegisterRequest::encode,
        ClientRegisterRequest::decode,
    );
    assert_reencodes(
        MetaInfoResponse::decode(body),
        len,
        MetaInfoResponse::encode,
        MetaInfoResponse::decode,
    );
    assert_reencodes(
        BrokerRegisterRequest::decode(body),
        len,
        BrokerRegisterRequest::encode,
        BrokerRegisterRequest::decode,
    );
    assert_reencodes(
        BrokerAcquireMetaRequest::decode(body),
        len,
        BrokerAcquireMetaRequest::encode,
        BrokerAcquireMetaRequest::decode,
    );
    assert_reencodes(
        BrokerAcquireMetaResponse::decode(body),
        len,
        BrokerAcquireMetaResponse::encode,
        BrokerAcquireMetaResponse::decode,
    );
    assert_reencodes(
        ConsumeManageRequest::decode(body),
        len,
        ConsumeManageRequest::encode,
        ConsumeManageRequest::decode,
    );
    assert_reencodes(
        PullMessageResponse::decode(body),
        len,
        PullMessageResponse::encode,
        PullMessageResponse::decode,
    );
    assert_reencodes(
        SendMessageResponse::decode(body),
        len,
        SendMessageResponse::encode,
        SendMessageResponse::decode,
    );
    assert_reencodes(
        Message::decode_payload(body),
        len,
        |m, b| m.encode_payload(b),
        Message::decode_payload,
    );
}

/// Feeds `data` to the frame decoder until it stops, and every frame body to every decoder.
fn check_stream(data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.clone();
        let borrowed = Frame::decode(&before, MAX_FRAME_LEN);
        match Frame::decode_from(&mut buf, MAX_FRAME_LEN) {
            Ok(Some(frame)) => {
                let (same, used) = borrowed.expect("decode agrees").expect("complete");
                assert_eq!(same, frame);
                let mut again = BytesMut::new();
                frame.encode(&mut again);
                assert_eq!(
                    &again[..],
                    &before[..used],
                    "a frame re-encodes byte for byte"
                );
                check_body(&frame.body, frame.header.version);
            }
            Ok(None) => {
                assert_eq!(borrowed, Ok(None));
                assert_eq!(buf, before, "an incomplete frame is left in place");
                break;
            }
            Err(e) => {
                assert_eq!(borrowed.map(|_| ()), Err(e));
                break;
            }
        }
    }
}

/// The encoding of a random valid body of any command.
fn valid_body() -> impl Strategy<Value = Vec<u8>> {
    fn enc<T>(f: impl Fn(&T, &mut BytesMut)) -> impl Fn(T) -> Vec<u8> {
        move |v| {
            let mut b = BytesMut::new();
            f(&v, &mut b);
            b.to_vec()
        }
    }
    prop_oneof![
        vec(small_message(), 1..=3).prop_map(|m| {
            let mut b = BytesMut::new();
            SendMessageRequest::encode_messages(&m, &mut b);
            b.to_vec()
        }),
        pull_request(vec(pull_filter(), 0..=3))
            .prop_map(enc(|r: &PullRequest, b| r.encode(VERSION_9, b))),
        pull_request(tag_filter().prop_map(|f| vec![f]))
            .prop_map(enc(|r: &PullRequest, b| r.encode(VERSION_8, b))),
        ack_request().prop_map(enc(|a: &AckRequest, b| a.encode(VERSION_9, b))),
        client_register_request().prop_map(enc(ClientRegisterRequest::encode)),
        meta_info_response().prop_map(enc(MetaInfoResponse::encode)),
        broker_register_request().prop_map(enc(BrokerRegisterRequest::encode)),
        broker_acquire_meta_request().prop_map(enc(BrokerAcquireMetaRequest::encode)),
        pull_message_response().prop_map(enc(PullMessageResponse::encode)),
        send_message_response().prop_map(enc(SendMessageResponse::encode)),
    ]
}

/// A valid body with a few bytes overwritten and possibly cut short: reaches deeper than
/// uniformly random bytes, which rarely get past the first length field.
fn mutated_body() -> impl Strategy<Value = Vec<u8>> {
    (
        valid_body(),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..=4),
        any::<Option<prop::sample::Index>>(),
    )
        .prop_map(|(mut body, edits, cut)| {
            if !body.is_empty() {
                for (at, byte) in edits {
                    let at = at.index(body.len());
                    body[at] = byte;
                }
            }
            if let Some(cut) = cut {
                body.truncate(cut.index(body.len() + 1));
            }
            body
        })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_body_decoder(body in any::<Vec<u8>>(), version in any::<i16>()) {
        check_body(&Bytes::from(body), version);
    }

    #[test]
    fn mutated_bodies_never_panic_a_body_decoder(body in mutated_body(), version in any::<i16>()) {
        check_body(&Bytes::from(body), version);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_frame_decoder(data in any::<Vec<u8>>()) {
        check_stream(&data);
    }

    #[test]
    fn mutated_frame_streams_never_panic(
        frames in vec(frame(), 1..=3),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 0..=3),
    ) {
        let mut wire = BytesMut::new();
        for f in &frames {
            f.encode(&mut wire);
        }
        for (at, byte) in edits {
            let at = at.index(wire.len());
            wire[at] = byte;
        }
        check_stream(&wire);
    }

    #[test]
    fn frames_carrying_mutated_bodies_never_panic(body in mutated_body(), version in any::<i16>()) {
        let mut wire = BytesMut::new();
        Frame::new(
            qmq_core::protocol::Header { code: 10, version, opaque: 0, flag: 0, request_code: 10 },
            Bytes::from(body),
        )
        .encode(&mut wire);
        check_stream(&wire);
    }
}
