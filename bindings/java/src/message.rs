//! Messages across the boundary as one `byte[]` each way, instead of one JNI call per field.
//!
//! Layout (big-endian; `str` = `u32` byte length + UTF-8):
//!
//! * outgoing (Java `BaseMessage` → core): `str id`, `str subject`, `i64 created_ms`,
//!   `i64 schedule_ms` (−1 = none), `i32 max_retries` (−1 = none), `u32 n` + `n × str tag`,
//!   `u32 n` + `n × (str key, str value)` properties, `u32 n` + `n × (str key, str value)`
//!   large strings;
//! * incoming (core → Java): `u32 count`, then per message `str subject`, `str id`,
//!   `i64 created_ms`, `u32 n` + tags, `u32 n` + `(key, value)` attributes in wire order.
//!
//! The decoder is bounds-checked: a malformed buffer is an `InvalidArgumentException`, never a
//! panic. Values are validated by the core (`ProducerMessage` setters), not here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmq_core::client::{Producer, ProducerMessage};
use qmq_core::protocol::Message;

use crate::errors::BridgeError;
use crate::guard::Result;

/// Reads the outgoing layout.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(BridgeError::InvalidArgument(format!(
                "malformed message buffer: {n} bytes wanted at offset {} of {}",
                self.pos,
                self.buf.len()
            )));
        };
        let out = self.buf.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }

    fn i64(&mut self) -> Result<i64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn str(&mut self) -> Result<&'a str> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|e| {
            BridgeError::InvalidArgument(format!("malformed message buffer: bad UTF-8 ({e})"))
        })
    }

    fn count(&mut self) -> Result<usize> {
        let n = self.u32()? as usize;
        // Every item takes at least 4 bytes: a count beyond that is malformed, and checking it
        // here keeps a bad count from reserving memory.
        if n > self.buf.len().saturating_sub(self.pos) / 4 {
            return Err(BridgeError::InvalidArgument(format!(
                "malformed message buffer: count {n} at offset {}",
                self.pos
            )));
        }
        Ok(n)
    }

    fn done(&self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(BridgeError::InvalidArgument(format!(
                "malformed message buffer: {} trailing bytes",
                self.buf.len() - self.pos
            )))
        }
    }
}

fn epoch(ms: i64) -> Result<SystemTime> {
    let ms = u64::try_from(ms)
        .map_err(|_| BridgeError::InvalidArgument(format!("time {ms} ms is before 1970-01-01")))?;
    Ok(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Builds the core message from a Java `BaseMessage` buffer.
pub(crate) fn decode_outgoing(producer: &Producer, buf: &[u8]) -> Result<ProducerMessage> {
    let mut r = Reader::new(buf);
    let id = r.str()?;
    let subject = r.str()?;
    let created = epoch(r.i64()?)?;
    let mut m = producer.message_with_id(subject, id.to_owned(), created)?;
    let schedule = r.i64()?;
    if schedule >= 0 {
        m.set_delay_until(epoch(schedule)?)?;
    }
    let max_retries = r.i32()?;
    if let Ok(max) = u32::try_from(max_retries) {
        m.set_max_retries(max);
    }
    for _ in 0..r.count()? {
        m.add_tag(r.str()?)?;
    }
    for _ in 0..r.count()? {
        let (k, v) = (r.str()?, r.str()?);
        m.set_property(k, v)?;
    }
    for _ in 0..r.count()? {
        let (k, v) = (r.str()?, r.str()?);
        m.set_large_string(k, v)?;
    }
    r.done()?;
    Ok(m)
}

/// Writes the incoming layout.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn with_count(count: usize) -> Self {
        let mut w = Self {
            buf: Vec::with_capacity(64 + count * 256),
        };
        w.u32(count);
        w
    }

    fn u32(&mut self, n: usize) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&n.to_be_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Appends one received message.
    pub(crate) fn message(&mut self, m: &Message) {
        self.str(&m.header.subject);
        self.str(&m.header.message_id);
        self.buf
            .extend_from_slice(&m.header.created_time.to_be_bytes());
        self.u32(m.header.tags.len());
        for t in &m.header.tags {
            self.str(t);
        }
        self.u32(m.attrs.len());
        for (k, v) in &m.attrs {
            self.str(k);
            self.str(v);
        }
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing(id: &str, subject: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for s in [id, subject] {
            b.extend_from_slice(&(s.len() as u32).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&[0; 12]);
        b
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let full = outgoing("id1", "sub");
        let mut r = Reader::new(&full);
        assert_eq!(r.str().unwrap(), "id1");
        for len in 0..full.len() {
            let mut r = Reader::new(&full[..len]);
            let ok = (|| -> Result<()> {
                r.str()?;
                r.str()?;
                r.i64()?;
                r.i64()?;
                r.i32()?;
                for _ in 0..3 {
                    r.count()?;
                }
                r.done()
            })();
            assert!(ok.is_err(), "truncated at {len}");
        }
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert!(r.count().is_err());
    }

    #[test]
    fn writer_writes_count_then_fields() {
        let m = Message {
            header: qmq_core::protocol::message::MessageHeader {
                flag: 0,
                created_time: 5,
                expire_or_schedule_time: 0,
                subject: "s".into(),
                message_id: "i".into(),
                tags: vec!["t".into()],
            },
            attrs: vec![("k".into(), "v".into())],
        };
        let mut w = Writer::with_count(1);
        w.message(&m);
        let b = w.into_bytes();
        assert_eq!(&b[..4], &[0, 0, 0, 1]);
        assert_eq!(&b[4..9], &[0, 0, 0, 1, b's']);
        assert_eq!(b.len(), 4 + 5 + 5 + 8 + 4 + 5 + 4 + 5 + 5);
    }
}
