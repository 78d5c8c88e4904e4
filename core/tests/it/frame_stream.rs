//! Frames survive any chunking of the byte stream (spec §1): a reader that feeds
//! `Frame::decode_from` whatever TCP hands it gets back exactly the frames that were sent.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, FRAME_PREFIX_LEN};
use qmq_core::protocol::{Frame, ProtocolError};

use crate::strategies::frame;

fn encode_all(frames: &[Frame]) -> BytesMut {
    let mut wire = BytesMut::new();
    for f in frames {
        f.encode(&mut wire);
    }
    wire
}

proptest! {
    #[test]
    fn single_frame_roundtrips(f in frame()) {
        let wire = encode_all(std::slice::from_ref(&f));
        prop_assert_eq!(wire.len(), f.encoded_len());
        let (decoded, used) = Frame::decode(&wire, DEFAULT_MAX_FRAME_LEN)
            .expect("valid")
            .expect("complete");
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(decoded, f);
    }

    #[test]
    fn concatenated_frames_decode_whatever_the_chunking(
        frames in vec(frame(), 1..=8),
        chunks in vec(1..=64usize, 1..=64),
    ) {
        let wire = encode_all(&frames);
        let mut buf = BytesMut::new();
        let mut decoded = Vec::new();
        let mut fed = 0;
        let mut sizes = chunks.iter().cycle();
        while fed < wire.len() {
            let size = (*sizes.next().expect("cycle is endless")).min(wire.len() - fed);
            buf.extend_from_slice(&wire[fed..fed + size]);
            fed += size;
            loop {
                let before = buf.len();
                match Frame::decode_from(&mut buf, DEFAULT_MAX_FRAME_LEN).expect("valid stream") {
                    Some(f) => decoded.push(f),
                    None => {
                        prop_assert_eq!(buf.len(), before, "an incomplete frame is left in place");
                        prop_assert!(Frame::missing_bytes(&buf) > 0);
                        if !buf.is_empty() {
                            // The bytes still needed belong to a frame that was sent.
                            prop_assert!(Frame::missing_bytes(&buf) <= wire.len() - fed);
                        }
                        break;
                    }
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn decode_and_decode_from_agree(frames in vec(frame(), 1..=4), cut in any::<prop::sample::Index>()) {
        let wire = encode_all(&frames);
        let prefix = &wire[..cut.index(wire.len() + 1)];
        let borrowed = Frame::decode(prefix, DEFAULT_MAX_FRAME_LEN).expect("valid prefix");
        let mut owned = BytesMut::from(prefix);
        let split = Frame::decode_from(&mut owned, DEFAULT_MAX_FRAME_LEN).expect("valid prefix");
        match (borrowed, split) {
            (Some((a, used)), Some(b)) => {
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(&a, &frames[0]);
                prop_assert_eq!(owned.len(), prefix.len() - used);
            }
            (None, None) => prop_assert_eq!(owned.len(), prefix.len()),
            (a, b) => prop_assert!(false, "decode {:?} vs decode_from {:?}", a, b),
        }
    }

    #[test]
    fn oversized_frame_is_rejected_from_its_length_alone(f in frame(), slack in 1..=64usize) {
        let wire = encode_all(std::slice::from_ref(&f));
        let max = wire.len().saturating_sub(slack).max(FRAME_PREFIX_LEN - 1);
        let verdict = Frame::decode(&wire[..4], max);
        let rejected = matches!(verdict, Err(ProtocolError::FrameTooLarge { .. }));
        prop_assert!(rejected, "max {} for {} bytes: {:?}", max, wire.len(), verdict);
        prop_assert!(Frame::decode(&wire, wire.len()).expect("at the limit").is_some());
    }

    #[test]
    fn corrupted_magic_is_rejected_once_ten_bytes_arrive(f in frame(), at in 6..10usize, xor in 1..=255u8) {
        let mut wire = encode_all(std::slice::from_ref(&f));
        wire[at] ^= xor;
        for len in 10..=wire.len() {
            let bad_magic = matches!(
                Frame::decode(&wire[..len], DEFAULT_MAX_FRAME_LEN),
                Err(ProtocolError::BadMagic { .. })
            );
            prop_assert!(bad_magic, "prefix {}", len);
        }
    }
}
