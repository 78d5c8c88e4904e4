//! Fuzzes the frame decoder and every command decoder behind it.
//!
//! The input is a byte stream fed to `Frame::decode_from` whole and, as a socket would deliver
//! it, in chunks of 1–64 bytes picked by its last byte. Each decoded
//! frame's body goes to every body decoder. Properties checked, beyond "no panic":
//! * chunked decoding yields the same frames, and fails or not, as decoding the whole input;
//! * a decoded frame re-encodes to exactly the bytes it came from;
//! * whatever a body decoder accepts re-encodes to bytes that decode to an equal value.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use qmq_core::protocol::frame::{VERSION_7, VERSION_8, VERSION_9};
use qmq_core::protocol::{
    AckRequest, BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRegisterRequest,
    ClientRegisterRequest, ConsumeManageRequest, Frame, Message, MetaInfoResponse, ProtocolError,
    PullMessageResponse, PullRequest, RawMessage, SendMessageRequest, SendMessageResponse,
};

/// Small, so random length fields are often complete or over the limit.
const MAX_FRAME_LEN: usize = 4096;

fuzz_target!(|stream: &[u8]| {
    // The chunk size comes from the last byte without consuming it, so that the seeds stay
    // plain frame streams (a leading selector byte would shift every seed off its frames).
    let Some(&last) = stream.last() else {
        return;
    };
    let whole = decode_stream(stream, stream.len());
    let chunked = decode_stream(stream, 1 + usize::from(last % 64));
    // Which error a bad prefix reports can depend on how much of it is buffered (a short
    // length is seen at 4 bytes, a bad magic at 10), but not whether there is one.
    assert_eq!(whole.0, chunked.0, "chunking changed the decoded frames");
    assert_eq!(
        whole.1.is_ok(),
        chunked.1.is_ok(),
        "chunking changed the verdict"
    );
    for frame in &whole.0 {
        check_body(&frame.body, frame.header.version);
    }
});

/// Decodes frames off `stream` fed `chunk` bytes at a time; returns the frames and how it
/// stopped (`Ok(())` = ran out of input, `Err` = the stream is unusable).
fn decode_stream(stream: &[u8], chunk: usize) -> (Vec<Frame>, Result<(), ProtocolError>) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut wire_at = 0;
    while at < stream.len() {
        let end = (at + chunk).min(stream.len());
        buf.extend_from_slice(&stream[at..end]);
        at = end;
        loop {
            let before = buf.len();
            match Frame::decode_from(&mut buf, MAX_FRAME_LEN) {
                Ok(Some(frame)) => {
                    let used = before - buf.len();
                    let mut again = BytesMut::new();
                    frame.encode(&mut again);
                    assert_eq!(&again[..], &stream[wire_at..wire_at + used]);
                    wire_at += used;
                    frames.push(frame);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "an incomplete frame is left in place");
                    break;
                }
                Err(e) => return (frames, Err(e)),
            }
        }
    }
    (frames, Ok(()))
}

/// If `first` decoded, re-encodes it and checks that the bytes decode to an equal value.
fn reencodes<T: PartialEq + std::fmt::Debug>(
    first: Result<(T, usize), ProtocolError>,
    input_len: usize,
    encode: impl Fn(&T, &mut BytesMut),
    decode: impl Fn(&[u8]) -> Result<(T, usize), ProtocolError>,
) {
    let Ok((value, used)) = first else { return };
    assert!(used <= input_len);
    let mut buf = BytesMut::new();
    encode(&value, &mut buf);
    let (again, again_used) = decode(&buf).expect("a re-encoded value decodes");
    assert_eq!(again, value);
    assert_eq!(again_used, buf.len());
}

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
    for version in [VERSION_7, VERSION_8, VERSION_9, header_version] {
        reencodes(
            PullRequest::decode(body, version),
            body.len(),
            |r, b| r.encode(version, b),
            |s| PullRequest::decode(s, version),
        );
        reencodes(
            AckRequest::decode(body, version),
            body.len(),
            |a, b| a.encode(version, b),
            |s| AckRequest::decode(s, version),
        );
    }
    let len = body.len();
    reencodes(
        ClientRegisterRequest::decode(body),
        len,
        ClientRegisterRequest::encode,
        ClientRegisterRequest::decode,
    );
    reencodes(
        MetaInfoResponse::decode(body),
        len,
        MetaInfoResponse::encode,
        MetaInfoResponse::decode,
    );
    reencodes(
        BrokerRegisterRequest::decode(body),
        len,
        BrokerRegisterRequest::encode,
        BrokerRegisterRequest::decode,
    );
    reencodes(
        BrokerAcquireMetaRequest::decode(body),
        len,
        BrokerAcquireMetaRequest::encode,
        BrokerAcquireMetaRequest::decode,
    );
    reencodes(
        BrokerAcquireMetaResponse::decode(body),
        len,
        BrokerAcquireMetaResponse::encode,
        BrokerAcquireMetaResponse::decode,
    );
    reencodes(
        ConsumeManageRequest::decode(body),
        len,
        ConsumeManageRequest::encode,
        ConsumeManageRequest::decode,
    );
    reencodes(
        PullMessageResponse::decode(body),
        len,
        PullMessageResponse::encode,
        PullMessageResponse::decode,
    );
    reencodes(
        SendMessageResponse::decode(body),
        len,
        SendMessageResponse::encode,
        SendMessageResponse::decode,
    );
    reencodes(
        Message::decode_payload(body),
        len,
        |m, b| m.encode_payload(b),
        Message::decode_payload,
    );
}
