//! The checked-in seed corpus of the `frame_decoder` fuzz target stays valid: every seed is a
//! stream of whole frames whose bodies decode as the command their header names, so fuzzing
//! starts from inputs that reach deep into the command decoders.

use std::path::Path;

use bytes::BytesMut;
use qmq_core::protocol::{
    AckRequest, BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRegisterRequest,
    ClientRegisterRequest, Frame, MetaInfoResponse, PullMessageResponse, PullRequest,
    SendMessageRequest, SendMessageResponse,
};

/// The limit the fuzz target decodes with.
const FUZZ_MAX_FRAME_LEN: usize = 4096;

/// Decodes `frame.body` as the command its header names; returns that command's code.
fn decode_as_named(frame: &Frame) -> Result<i16, String> {
    let body = &frame.body;
    let used = |r: Result<usize, _>| -> Result<(), String> {
        match r {
            Ok(n) if n == body.len() => Ok(()),
            Ok(n) => Err(format!("{} trailing bytes", body.len() - n)),
            Err(e) => Err(format!("{e}")),
        }
    };
    let h = &frame.header;
    let code = if h.is_response() {
        h.request_code
    } else {
        h.code
    };
    match (h.is_response(), code) {
        (false, 10) => {
            let req = SendMessageRequest::decode(body).map_err(|e| e.to_string())?;
            if !req.messages.iter().all(|m| m.crc_matches()) {
                return Err("CRC mismatch".into());
            }
        }
        (false, 11) => used(PullRequest::decode(body, h.version).map(|r| r.1))?,
        (false, 12) => used(AckRequest::decode(body, h.version).map(|r| r.1))?,
        (false, 30) => used(BrokerRegisterRequest::decode(body).map(|r| r.1))?,
        (false, 35) => used(ClientRegisterRequest::decode(body).map(|r| r.1))?,
        (false, 40) => used(BrokerAcquireMetaRequest::decode(body).map(|r| r.1))?,
        (_, 100) if body.is_empty() => {}
        (true, 10) => used(SendMessageResponse::decode(body).map(|r| r.1))?,
        (true, 11) => used(PullMessageResponse::decode(body).map(|r| r.1))?,
        (true, 35) => used(MetaInfoResponse::decode(body).map(|r| r.1))?,
        (true, 40) => used(BrokerAcquireMetaResponse::decode(body).map(|r| r.1))?,
        other => return Err(format!("no seed rule for {other:?}")),
    }
    Ok(code)
}

#[test]
fn fuzz_seeds_are_streams_of_valid_frames() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/frame_decoder");
    let mut seeds = 0;
    let mut codes = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("seed directory exists") {
        let path = entry.expect("readable entry").path();
        let data = std::fs::read(&path).expect("readable seed");
        let mut buf = BytesMut::from(&data[..]);
        let mut frames = 0;
        while let Some(frame) = Frame::decode_from(&mut buf, FUZZ_MAX_FRAME_LEN)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        {
            let code = decode_as_named(&frame)
                .unwrap_or_else(|e| panic!("{} frame {frames}: {e}", path.display()));
            codes.insert((frame.header.is_response(), code));
            frames += 1;
        }
        assert!(frames > 0, "{}: no frame", path.display());
        assert!(
            buf.is_empty(),
            "{}: {} trailing bytes",
            path.display(),
            buf.len()
        );
        seeds += 1;
    }
    assert!(seeds >= 10, "only {seeds} seeds in {}", dir.display());
    assert!(codes.len() >= 10, "seeds cover only {codes:?}");
}
