//! The message record shared by SEND_MESSAGE and PULL_MESSAGE (spec §3).
//!
//! ```text
//! SEND record:  i64 crc | payload
//! payload:      i8 flag | i64 createdTime | i64 expire-or-schedule | str16 subject | str16 messageId
//!               | [i8 tagCount, tagCount × str16]   (only if flag bit 2)
//!               | i32 attrsLen | attrsLen bytes of (str16 key, str16 value)*
//! ```
//! The CRC is zlib's CRC-32 of the payload, carried in an `i64`. There is no separate body: the
//! attribute map *is* the payload. Brokers store the payload unchanged and return it in pulls.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{Reader, check_str16, put_str16, str16_len};
use super::error::ProtocolError;
use super::message_ref::{HeaderRef, MessageRef, parse_attrs, read_attrs_block};

/// Flag bit 0: "low reliability" (Java never sets it).
pub const FLAG_LOW_RELIABILITY: u8 = 1;
/// Flag bit 1: the second time field is a schedule time (a delay message).
pub const FLAG_DELAY: u8 = 2;
/// Flag bit 2: a tag list follows the message id.
pub const FLAG_TAGS: u8 = 4;
/// The most tags a message may carry (QMQ's client limit).
pub const MAX_TAGS: usize = 10;
/// The longest message id QMQ accepts.
pub const MAX_MESSAGE_ID_LEN: usize = 100;

/// The fixed fields of a payload, everything before the attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageHeader {
    /// Flag bits (`FLAG_*`).
    pub flag: u8,
    /// Creation time, epoch milliseconds.
    pub created_time: i64,
    /// Schedule time for delay messages (flag bit 1), otherwise the sender's clock at encode time.
    pub expire_or_schedule_time: i64,
    /// The subject.
    pub subject: String,
    /// The message id.
    pub message_id: String,
    /// Tags (present on the wire only when flag bit 2 is set).
    pub tags: Vec<String>,
}

impl MessageHeader {
    /// Whether the message is a delay message.
    pub fn is_delay(&self) -> bool {
        self.flag & FLAG_DELAY != 0
    }

    /// Decodes a payload's header and skips its attributes.
    ///
    /// Returns the header, the range of the attribute block inside `payload`, and the payload's
    /// total length (the bytes of `payload` that belong to this message).
    ///
    /// # Errors
    /// Any truncation, negative length or invalid UTF-8.
    pub fn decode_payload(
        payload: &[u8],
    ) -> Result<(Self, std::ops::Range<usize>, usize), ProtocolError> {
        let mut r = Reader::new(payload);
        let header = HeaderRef::read(&mut r)?.to_header();
        let (block, start) = read_attrs_block(&mut r)?;
        Ok((header, start..start + block.len(), r.position()))
    }

    fn encoded_len(&self) -> usize {
        let mut len = 1 + 8 + 8 + str16_len(&self.subject) + str16_len(&self.message_id);
        if self.flag & FLAG_TAGS != 0 {
            len += 1 + self.tags.iter().map(|t| str16_len(t)).sum::<usize>();
        }
        len
    }

    fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(self.flag);
        dst.put_i64(self.created_time);
        dst.put_i64(self.expire_or_schedule_time);
        put_str16(dst, &self.subject);
        put_str16(dst, &self.message_id);
        if self.flag & FLAG_TAGS != 0 {
            let count = self.tags.len().min(i8::MAX as usize);
            dst.put_u8(count as u8);
            for tag in &self.tags[..count] {
                put_str16(dst, tag);
            }
        }
    }
}

/// Decodes an attribute block: `(str16 key, str16 value)*` until the block ends.
///
/// # Errors
/// Truncation, negative lengths or invalid UTF-8 inside the block.
pub fn decode_attrs(block: &[u8]) -> Result<Vec<(String, String)>, ProtocolError> {
    // Validate the whole block first, borrowing, so the owned list is allocated once and exactly.
    Ok(parse_attrs(block)?
        .as_slice()
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect())
}

/// A fully decoded message: header plus attributes in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The fixed fields.
    pub header: MessageHeader,
    /// The attributes in wire order (keys are unique in well-formed messages).
    pub attrs: Vec<(String, String)>,
}

impl Message {
    /// Looks an attribute up.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets an attribute, replacing an existing value in place.
    pub fn set_attr(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = value.into();
        match self.attrs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((key, value)),
        }
    }

    /// Removes an attribute.
    pub fn remove_attr(&mut self, key: &str) -> Option<String> {
        let at = self.attrs.iter().position(|(k, _)| k == key)?;
        Some(self.attrs.remove(at).1)
    }

    /// Checks every limit the wire imposes: string lengths, tag count, message id length.
    ///
    /// # Errors
    /// The first limit broken.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let h = &self.header;
        check_str16("subject", &h.subject)?;
        check_str16("messageId", &h.message_id)?;
        if h.message_id.len() > MAX_MESSAGE_ID_LEN {
            return Err(ProtocolError::StringTooLong {
                field: "messageId",
                length: h.message_id.len(),
            });
        }
        if h.tags.len() > MAX_TAGS {
            return Err(ProtocolError::TooManyEntries {
                field: "tags",
                count: h.tags.len(),
                max: MAX_TAGS,
            });
        }
        for tag in &h.tags {
            check_str16("tag", tag)?;
        }
        for (key, value) in &self.attrs {
            check_str16("attrKey", key)?;
            check_str16("attrValue", value)?;
        }
        Ok(())
    }

    fn attrs_len(&self) -> usize {
        self.attrs
            .iter()
            .map(|(k, v)| str16_len(k) + str16_len(v))
            .sum()
    }

    /// Encoded size of the payload (the record without its CRC).
    pub fn payload_len(&self) -> usize {
        self.header.encoded_len() + 4 + self.attrs_len()
    }

    /// Appends the payload.
    pub fn encode_payload(&self, dst: &mut BytesMut) {
        dst.reserve(self.payload_len());
        self.header.encode(dst);
        dst.put_i32(self.attrs_len() as i32);
        for (key, value) in &self.attrs {
            put_str16(dst, key);
            put_str16(dst, value);
        }
    }

    /// Encoded size of the SEND record (CRC plus payload).
    pub fn record_len(&self) -> usize {
        8 + self.payload_len()
    }

    /// Appends the SEND record: the payload's CRC-32 as an `i64`, then the payload.
    pub fn encode_record(&self, dst: &mut BytesMut) {
        dst.reserve(self.record_len());
        let crc_at = dst.len();
        dst.put_i64(0);
        let payload_at = dst.len();
        self.encode_payload(dst);
        let crc = crc32fast::hash(&dst[payload_at..]);
        dst[crc_at..payload_at].copy_from_slice(&i64::from(crc).to_be_bytes());
    }

    /// Decodes one payload from the start of `src`; returns it and the bytes used.
    ///
    /// # Errors
    /// Any malformed field.
    pub fn decode_payload(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let (view, used) = MessageRef::decode_payload(src)?;
        Ok((view.to_message(), used))
    }
}

/// One SEND record as received: its bytes kept whole, its header decoded, attributes untouched.
///
/// Servers store and forward `record` / `payload()` unchanged; only the header is decoded on the
/// hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The whole record: `i64 crc` then the payload.
    pub record: Bytes,
    /// The decoded header.
    pub header: MessageHeader,
    /// Where the attribute block sits inside `record`.
    pub attrs: std::ops::Range<usize>,
}

impl RawMessage {
    /// Splits the first record off `src` (a slice of a SEND body).
    ///
    /// # Errors
    /// Any malformed field; a CRC mismatch is *not* an error here (see [`RawMessage::crc_matches`]).
    pub fn decode(src: &Bytes) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        r.i64("crc")?;
        let (header, attrs, used) = MessageHeader::decode_payload(&src[8..])?;
        let len = 8 + used;
        Ok((
            Self {
                record: src.slice(..len),
                header,
                attrs: attrs.start + 8..attrs.end + 8,
            },
            len,
        ))
    }

    /// Rebuilds a raw message from a stored payload and its CRC.
    ///
    /// # Errors
    /// Any malformed field in `payload`.
    pub fn from_payload(crc: u32, payload: &[u8]) -> Result<Self, ProtocolError> {
        let mut record = BytesMut::with_capacity(8 + payload.len());
        record.put_i64(i64::from(crc));
        record.put_slice(payload);
        let record = record.freeze();
        let (raw, used) = Self::decode(&record)?;
        if used != record.len() {
            return Err(ProtocolError::TrailingBytes {
                field: "payload",
                count: record.len() - used,
            });
        }
        Ok(raw)
    }

    /// The CRC carried by the record (the low 32 bits of its leading `i64`).
    pub fn crc(&self) -> u32 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.record[..8]);
        i64::from_be_bytes(b) as u32
    }

    /// Whether the carried CRC matches the payload (and the `i64` holds a 32-bit value).
    pub fn crc_matches(&self) -> bool {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.record[..8]);
        let carried = i64::from_be_bytes(b);
        carried == i64::from(crc32fast::hash(&self.record[8..]))
    }

    /// The payload: the record without its CRC.
    pub fn payload(&self) -> Bytes {
        self.record.slice(8..)
    }

    /// Decodes the attributes.
    ///
    /// # Errors
    /// A malformed attribute block.
    pub fn decode_attrs(&self) -> Result<Vec<(String, String)>, ProtocolError> {
        decode_attrs(&self.record[self.attrs.clone()])
    }

    /// Decodes the whole message, copying the header (see [`RawMessage::into_message`]).
    ///
    /// # Errors
    /// A malformed attribute block.
    pub fn to_message(&self) -> Result<Message, ProtocolError> {
        Ok(Message {
            header: self.header.clone(),
            attrs: self.decode_attrs()?,
        })
    }

    /// Decodes the whole message, moving the already decoded header instead of cloning it.
    ///
    /// # Errors
    /// A malformed attribute block.
    pub fn into_message(self) -> Result<Message, ProtocolError> {
        let attrs = self.decode_attrs()?;
        Ok(Message {
            header: self.header,
            attrs,
        })
    }

    /// A borrowed view of the payload, attributes included, without allocating.
    ///
    /// # Errors
    /// A malformed attribute block (the header was validated by [`RawMessage::decode`]).
    pub fn view(&self) -> Result<MessageRef<'_>, ProtocolError> {
        MessageRef::decode_payload(&self.record[8..]).map(|(view, _)| view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Message {
        Message {
            header: MessageHeader {
                flag: FLAG_TAGS,
                created_time: 1_559_547_759_000,
                expire_or_schedule_time: 1_559_548_659_000,
                subject: "order.changed".into(),
                message_id: "190603.154239.10.0.0.1.3316.0".into(),
                tags: vec!["paid".into(), "vip".into()],
            },
            attrs: vec![("orderId".into(), "42".into()), ("k".into(), "ü".into())],
        }
    }

    #[test]
    fn record_roundtrip_with_valid_crc() {
        let msg = sample();
        let mut buf = BytesMut::new();
        msg.encode_record(&mut buf);
        assert_eq!(buf.len(), msg.record_len());
        let bytes = buf.freeze();
        let (raw, used) = RawMessage::decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert!(raw.crc_matches());
        assert_eq!(raw.to_message().unwrap(), msg);
        let (decoded, used) = Message::decode_payload(&raw.payload()).unwrap();
        assert_eq!((decoded, used), (msg.clone(), msg.payload_len()));
        let again = RawMessage::from_payload(raw.crc(), &raw.payload()).unwrap();
        assert_eq!(again, raw);
    }

    #[test]
    fn flipped_byte_breaks_crc() {
        let mut buf = BytesMut::new();
        sample().encode_record(&mut buf);
        let last = buf.len() - 1;
        buf[last] ^= 1;
        let bytes = buf.freeze();
        let (raw, _) = RawMessage::decode(&bytes).unwrap();
        assert!(!raw.crc_matches());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut buf = BytesMut::new();
        sample().encode_record(&mut buf);
        let bytes = buf.freeze();
        for cut in 0..bytes.len() {
            assert!(
                RawMessage::decode(&bytes.slice(..cut)).is_err(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn attr_helpers() {
        let mut msg = sample();
        msg.set_attr("orderId", "43");
        msg.set_attr("new", "1");
        assert_eq!(msg.attr("orderId"), Some("43"));
        assert_eq!(msg.remove_attr("new").as_deref(), Some("1"));
        assert_eq!(msg.attr("new"), None);
    }

    #[test]
    fn validate_enforces_limits() {
        let mut msg = sample();
        assert!(msg.validate().is_ok());
        msg.header.tags = (0..11).map(|i| i.to_string()).collect();
        assert!(matches!(
            msg.validate(),
            Err(ProtocolError::TooManyEntries { .. })
        ));
        let mut msg = sample();
        msg.set_attr("big", "x".repeat(40_000));
        assert!(matches!(
            msg.validate(),
            Err(ProtocolError::StringTooLong { .. })
        ));
        let mut msg = sample();
        msg.header.message_id = "i".repeat(101);
        assert!(msg.validate().is_err());
    }
}
