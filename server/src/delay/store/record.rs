//! Bodies of message-log and schedule-log frames.
//!
//! Message-log (WAL) body, version 1, big-endian:
//! `u64 sequence, i64 schedule_time_ms, i64 bucket_start_ms, i64 received_ms,
//!  u16 len + subject, u16 len + message_id, u32 len + record`.
//!
//! Schedule-log body, version 1: `u64 sequence, i64 schedule_time_ms,
//!  u16 len + subject, u16 len + message_id, u32 len + record`.
//!
//! `record` is the whole SEND_MESSAGE wire record, leading CRC included, kept byte for byte.
//!
//! Invariants worth naming:
//! - The schedule time stored is the producer's, even when it lies in the past; the bucket is
//!   chosen at acceptance (`bucket_start_ms`) so a replay after a restart lands in the same file.
//! - The sequence is the first field of both bodies, so an index can be built from 16 bytes.

use super::error::DelayStoreError;

/// Largest wire record kept (QMQ drops records above 50 MB).
pub const MAX_RECORD_LEN: usize = 64 * 1024 * 1024;

/// One message as the store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredRef<'a> {
    pub sequence: u64,
    pub schedule_time_ms: i64,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub record: &'a [u8],
}

/// Fields only the message log carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WalExtra {
    pub bucket_start_ms: i64,
    pub received_ms: i64,
}

/// Checks that every field fits its length prefix.
///
/// # Errors
/// [`DelayStoreError::FieldTooLong`] naming the field.
pub(crate) fn check_lengths(subject: &str, id: &str, record: &[u8]) -> Result<(), DelayStoreError> {
    let limit = |field, len: usize, max: usize| {
        if len > max {
            Err(DelayStoreError::FieldTooLong { field, len, max })
        } else {
            Ok(())
        }
    };
    limit("subject", subject.len(), u16::MAX as usize)?;
    limit("message id", id.len(), u16::MAX as usize)?;
    limit("record", record.len(), MAX_RECORD_LEN)
}

fn put_str16(out: &mut Vec<u8>, s: &str) {
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes().get(..len as usize).unwrap_or_default());
}

fn put_tail(out: &mut Vec<u8>, m: &StoredRef<'_>) {
    put_str16(out, m.subject);
    put_str16(out, m.message_id);
    let len = u32::try_from(m.record.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(m.record.get(..len as usize).unwrap_or_default());
}

/// Encodes a message-log body. Lengths must have passed [`check_lengths`].
pub(crate) fn encode_wal(m: &StoredRef<'_>, extra: WalExtra, out: &mut Vec<u8>) {
    out.extend_from_slice(&m.sequence.to_be_bytes());
    out.extend_from_slice(&m.schedule_time_ms.to_be_bytes());
    out.extend_from_slice(&extra.bucket_start_ms.to_be_bytes());
    out.extend_from_slice(&extra.received_ms.to_be_bytes());
    put_tail(out, m);
}

/// Encodes a schedule-log body. Lengths must have passed [`check_lengths`].
pub(crate) fn encode_schedule(m: &StoredRef<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&m.sequence.to_be_bytes());
    out.extend_from_slice(&m.schedule_time_ms.to_be_bytes());
    put_tail(out, m);
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_be_bytes)
    }
    fn str16(&mut self) -> Option<&'a str> {
        let len = self.take(2)?.try_into().ok().map(u16::from_be_bytes)?;
        std::str::from_utf8(self.take(len as usize)?).ok()
    }
    fn bytes32(&mut self) -> Option<&'a [u8]> {
        let len = self.take(4)?.try_into().ok().map(u32::from_be_bytes)?;
        self.take(len as usize)
    }
}

fn decode_tail<'a>(
    c: &mut Cursor<'a>,
    sequence: u64,
    schedule_time_ms: i64,
) -> Option<StoredRef<'a>> {
    let subject = c.str16()?;
    let message_id = c.str16()?;
    let record = c.bytes32()?;
    if !c.buf.is_empty() {
        return None;
    }
    Some(StoredRef {
        sequence,
        schedule_time_ms,
        subject,
        message_id,
        record,
    })
}

/// Decodes a message-log body; `None` if it is malformed.
pub(crate) fn decode_wal(body: &[u8]) -> Option<(StoredRef<'_>, WalExtra)> {
    let mut c = Cursor { buf: body };
    let sequence = c.u64()?;
    let schedule = c.i64()?;
    let extra = WalExtra {
        bucket_start_ms: c.i64()?,
        received_ms: c.i64()?,
    };
    Some((decode_tail(&mut c, sequence, schedule)?, extra))
}

/// Decodes a schedule-log body; `None` if it is malformed.
pub(crate) fn decode_schedule(body: &[u8]) -> Option<StoredRef<'_>> {
    let mut c = Cursor { buf: body };
    let sequence = c.u64()?;
    let schedule = c.i64()?;
    decode_tail(&mut c, sequence, schedule)
}

/// Sequence and schedule time of a schedule-log body, without decoding the rest.
pub(crate) fn schedule_key(body: &[u8]) -> Option<(u64, i64)> {
    let mut c = Cursor { buf: body };
    Some((c.u64()?, c.i64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredRef<'static> {
        StoredRef {
            sequence: 7,
            schedule_time_ms: -5,
            subject: "order.created",
            message_id: "190603.154239.100.80.128.160.3316.0",
            record: b"\0\0\0\0\x12\x34\x56\x78rest",
        }
    }

    #[test]
    fn wal_and_schedule_bodies_roundtrip() {
        let m = sample();
        let extra = WalExtra {
            bucket_start_ms: 3_600_000,
            received_ms: 99,
        };
        let mut wal = Vec::new();
        encode_wal(&m, extra, &mut wal);
        assert_eq!(decode_wal(&wal), Some((m, extra)));
        let mut sched = Vec::new();
        encode_schedule(&m, &mut sched);
        assert_eq!(decode_schedule(&sched), Some(m));
        assert_eq!(schedule_key(&sched), Some((7, -5)));
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_rejected() {
        let mut sched = Vec::new();
        encode_schedule(&sample(), &mut sched);
        for cut in 0..sched.len() {
            assert_eq!(decode_schedule(&sched[..cut]), None, "cut {cut}");
        }
        sched.push(0);
        assert_eq!(decode_schedule(&sched), None);
    }

    #[test]
    fn oversized_fields_are_named() {
        let long = "x".repeat(70_000);
        assert!(matches!(
            check_lengths(&long, "id", b""),
            Err(DelayStoreError::FieldTooLong {
                field: "subject",
                ..
            })
        ));
        assert!(check_lengths("s", "id", b"rec").is_ok());
    }
}
