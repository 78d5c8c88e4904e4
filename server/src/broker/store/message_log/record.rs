//! Message log record layout (QMQ message log v3, spec §11).
//!
//! ```text
//! i32   magic        0xA1B2C302
//! i8    attr         0 message, 1 end-of-segment filler (rest of segment is zeros), 2 blank
//! i64   append time  epoch ms
//! i64   sequence     per-subject consume-log sequence
//! str16 subject
//! i64   crc          the producer's CRC-32 of the payload, as i64
//! i32   payload size
//! ..    payload      the SEND wire record without its leading i64 CRC
//! ```
//! A blank record is `i32 magic, i8 attr=2, i32 n` followed by `n` bytes to skip; this store
//! never writes one but accepts it on recovery.

use crate::broker::store::codec::Reader;
use crate::broker::store::scan::Step;
use crate::broker::store::validate_name;

/// Magic of a v3 record.
pub(crate) const MAGIC_V3: i32 = 0xA1B2_C302_u32 as i32;
/// `attr` of a message record.
pub(crate) const ATTR_MESSAGE: i8 = 0;
/// `attr` of the end-of-segment filler.
pub(crate) const ATTR_FILLER: i8 = 1;
/// `attr` of a blank gap.
pub(crate) const ATTR_BLANK: i8 = 2;
/// magic + attr: the least room a filler needs.
pub(crate) const FILLER_LEN: usize = 5;
/// Header bytes not counting the subject.
const FIXED_HEADER: usize = 4 + 1 + 8 + 8 + 2 + 8 + 4;

/// Header length of a record for a subject of `subject_len` bytes.
pub(crate) fn header_len(subject_len: usize) -> usize {
    FIXED_HEADER + subject_len
}

/// Writes a message record into `out` (which must be exactly `header_len + payload.len()` long).
pub(crate) fn encode(out: &mut [u8], time: i64, seq: i64, subject: &str, crc: i64, payload: &[u8]) {
    let mut w = SliceWriter { out, pos: 0 };
    w.put(&MAGIC_V3.to_be_bytes());
    w.put(&ATTR_MESSAGE.to_be_bytes());
    w.put(&time.to_be_bytes());
    w.put(&seq.to_be_bytes());
    w.put(&(subject.len() as i16).to_be_bytes());
    w.put(subject.as_bytes());
    w.put(&crc.to_be_bytes());
    w.put(&(payload.len() as i32).to_be_bytes());
    w.put(payload);
}

/// Writes the end-of-segment filler at the start of `out`, if it fits.
pub(crate) fn encode_filler(out: &mut [u8]) {
    if let Some(dst) = out.get_mut(..FILLER_LEN) {
        let mut w = SliceWriter { out: dst, pos: 0 };
        w.put(&MAGIC_V3.to_be_bytes());
        w.put(&ATTR_FILLER.to_be_bytes());
    }
}

struct SliceWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// A decoded message record borrowing the segment's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordView<'a> {
    pub time: i64,
    pub sequence: i64,
    pub subject: &'a str,
    pub crc: i64,
    pub payload: &'a [u8],
    pub header_len: usize,
}

impl RecordView<'_> {
    pub(crate) fn total_len(&self) -> usize {
        self.header_len + self.payload.len()
    }
}

/// Outcome of decoding at one position.
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    Message(RecordView<'a>),
    Other(Step),
}

/// CRC-32 of a payload, as QMQ stores it (non-negative i64).
pub(crate) fn payload_crc(payload: &[u8]) -> i64 {
    i64::from(crc32fast::hash(payload))
}

/// Decodes the record at the start of `bytes` (which runs to the end of the segment), checking
/// magic, lengths and the CRC.
pub(crate) fn decode(bytes: &[u8]) -> Decoded<'_> {
    if bytes.len() < FILLER_LEN {
        return Decoded::Other(Step::EndOfSegment);
    }
    let mut r = Reader::new(bytes);
    let Some(magic) = r.i32() else {
        return Decoded::Other(Step::EndOfSegment);
    };
    if magic == 0 {
        return Decoded::Other(Step::End);
    }
    if magic != MAGIC_V3 {
        return Decoded::Other(Step::Corrupt("bad magic"));
    }
    match r.i8() {
        Some(ATTR_MESSAGE) => {}
        Some(ATTR_FILLER) => return Decoded::Other(Step::EndOfSegment),
        Some(ATTR_BLANK) => {
            return match r.i32().and_then(|n| usize::try_from(n).ok()) {
                Some(n) if r.position() + n <= bytes.len() => {
                    Decoded::Other(Step::Record((r.position() + n) as u64))
                }
                _ => Decoded::Other(Step::Corrupt("bad blank length")),
            };
        }
        _ => return Decoded::Other(Step::Corrupt("bad attr")),
    }
    let (Some(time), Some(sequence)) = (r.i64(), r.i64()) else {
        return Decoded::Other(Step::Corrupt("truncated header"));
    };
    let Some(subject) = r.str16().filter(|s| validate_name("subject", s).is_ok()) else {
        return Decoded::Other(Step::Corrupt("bad subject"));
    };
    let (Some(crc), Some(size)) = (r.i64(), r.i32()) else {
        return Decoded::Other(Step::Corrupt("truncated header"));
    };
    let header_len = r.position();
    let Some(payload) = usize::try_from(size).ok().and_then(|n| r.bytes(n)) else {
        return Decoded::Other(Step::Corrupt("bad payload size"));
    };
    if payload.is_empty() {
        // Zeroed garbage would otherwise pass: CRC-32 of nothing is 0.
        return Decoded::Other(Step::Corrupt("empty payload"));
    }
    if sequence < 0 {
        return Decoded::Other(Step::Corrupt("negative sequence"));
    }
    if payload_crc(payload) != crc {
        return Decoded::Other(Step::Corrupt("crc mismatch"));
    }
    Decoded::Message(RecordView {
        time,
        sequence,
        subject,
        crc,
        payload,
        header_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_roundtrip() {
        let payload = b"hello payload";
        let crc = payload_crc(payload);
        let mut buf = vec![0u8; header_len(3) + payload.len() + 10];
        let total = header_len(3) + payload.len();
        encode(&mut buf[..total], 17, 5, "abc", crc, payload);
        let Decoded::Message(v) = decode(&buf) else {
            panic!("not a message")
        };
        assert_eq!((v.time, v.sequence, v.subject, v.crc), (17, 5, "abc", crc));
        assert_eq!(v.payload, payload);
        assert_eq!(v.total_len(), total);
        assert!(matches!(decode(&buf[total..]), Decoded::Other(Step::End)));
    }

    #[test]
    fn decode_rejects_every_truncation_and_bad_crc() {
        let payload = b"xyz";
        let total = header_len(1) + 3;
        let mut buf = vec![0u8; total];
        encode(&mut buf, 1, 0, "s", payload_crc(payload), payload);
        for cut in FILLER_LEN..total {
            assert!(
                matches!(decode(&buf[..cut]), Decoded::Other(Step::Corrupt(_))),
                "cut {cut}"
            );
        }
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert!(matches!(
            decode(&buf),
            Decoded::Other(Step::Corrupt("crc mismatch"))
        ));
    }

    #[test]
    fn filler_ends_segment() {
        let mut buf = vec![0u8; 8];
        encode_filler(&mut buf);
        assert!(matches!(decode(&buf), Decoded::Other(Step::EndOfSegment)));
        assert!(matches!(
            decode(&buf[..4]),
            Decoded::Other(Step::EndOfSegment)
        ));
    }
}
