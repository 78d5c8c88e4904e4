//! Borrowed views of message payloads and SEND records (spec §3): the zero-allocation decode
//! path for code that reads a message and drops it (routing, filtering, benches, bridges).
//!
//! Invariants:
//! - A view is only built by a decoder that has checked every length against its input and
//!   every string as UTF-8, exactly as the owned decoders do and with the same errors, so
//!   `view.to_message()` equals [`Message::decode_payload`] of the same bytes.
//! - Every `&str` of a view points into the decoded input; nothing is copied.
//! - Decoding allocates nothing unless a message has more than [`INLINE_TAGS`] tags or
//!   [`INLINE_ATTRS`] attributes; the extra entries then go to one heap `Vec`.

use std::fmt;

use super::codec::Reader;
use super::error::ProtocolError;
use super::message::{FLAG_DELAY, FLAG_TAGS, Message, MessageHeader};

/// Tags a view holds without allocating (QMQ's client allows at most ten, most use none).
pub const INLINE_TAGS: usize = 4;
/// Attributes a view holds without allocating (Java clients set three, users a few more).
pub const INLINE_ATTRS: usize = 12;

/// A small list kept inline up to `N` entries; past that, every entry moves to `spill`.
///
/// Used instead of a lazy iterator over the raw block so that strings are validated once, at
/// decode time, without `unsafe` (`from_utf8_unchecked`) on the read side.
#[derive(Clone)]
pub(crate) struct InlineVec<T, const N: usize> {
    len: usize,
    inline: [T; N],
    spill: Vec<T>,
}

impl<T: Copy + Default, const N: usize> InlineVec<T, N> {
    #[inline]
    pub(crate) fn new() -> Self {
        Self {
            len: 0,
            inline: [T::default(); N],
            spill: Vec::new(),
        }
    }

    /// Appends `item`; `more` is a cap on how many may still follow, sizing a spill exactly.
    #[inline]
    pub(crate) fn push(&mut self, item: T, more: usize) {
        if self.len < N {
            self.inline[self.len] = item;
        } else {
            if self.spill.is_empty() {
                self.spill.reserve_exact(N + 1 + more);
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(item);
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        if self.len <= N {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

impl<T: fmt::Debug + Copy + Default, const N: usize> fmt::Debug for InlineVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl<T: PartialEq + Copy + Default, const N: usize> PartialEq for InlineVec<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq + Copy + Default, const N: usize> Eq for InlineVec<T, N> {}

/// The header fields of a payload, borrowed. Shared by [`MessageRef`] and the owned
/// [`MessageHeader::decode_payload`], so both paths parse (and fail) identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderRef<'a> {
    pub(crate) flag: u8,
    pub(crate) created_time: i64,
    pub(crate) expire_or_schedule_time: i64,
    pub(crate) subject: &'a str,
    pub(crate) message_id: &'a str,
    pub(crate) tags: InlineVec<&'a str, INLINE_TAGS>,
}

impl<'a> HeaderRef<'a> {
    /// Reads `i8 flag | i64 | i64 | str16 subject | str16 messageId | [i8 n, n × str16]`.
    #[inline]
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, ProtocolError> {
        let flag = r.i8("flag")? as u8;
        let created_time = r.i64("createdTime")?;
        let expire_or_schedule_time = r.i64("expireTime")?;
        let subject = r.str16_ref("subject")?;
        let message_id = r.str16_ref("messageId")?;
        let mut tags = InlineVec::new();
        if flag & FLAG_TAGS != 0 {
            let at = r.position();
            let count = r.i8("tagCount")?;
            if count < 0 {
                return Err(ProtocolError::NegativeLength {
                    field: "tagCount",
                    offset: at,
                    length: i64::from(count),
                });
            }
            // A str16 takes at least its two length bytes.
            let mut more = r.capacity_for(count as usize, 2);
            for _ in 0..count {
                more = more.saturating_sub(1);
                tags.push(r.str16_ref("tag")?, more);
            }
        }
        Ok(Self {
            flag,
            created_time,
            expire_or_schedule_time,
            subject,
            message_id,
            tags,
        })
    }

    /// Copies the fields into an owned header, each allocation sized exactly.
    pub(crate) fn to_header(&self) -> MessageHeader {
        MessageHeader {
            flag: self.flag,
            created_time: self.created_time,
            expire_or_schedule_time: self.expire_or_schedule_time,
            subject: self.subject.to_owned(),
            message_id: self.message_id.to_owned(),
            tags: self
                .tags
                .as_slice()
                .iter()
                .map(|t| (*t).to_owned())
                .collect(),
        }
    }
}

/// Reads `i32 attrsLen` and returns the attribute block, unparsed, with its offset in `r`.
#[inline]
pub(crate) fn read_attrs_block<'a>(r: &mut Reader<'a>) -> Result<(&'a [u8], usize), ProtocolError> {
    let attrs_len_at = r.position();
    let attrs_len = r.i32("attrsLen")?;
    let attrs_len = usize::try_from(attrs_len).map_err(|_| ProtocolError::NegativeLength {
        field: "attrsLen",
        offset: attrs_len_at,
        length: i64::from(attrs_len),
    })?;
    let start = r.position();
    Ok((r.bytes(attrs_len, "attrs")?, start))
}

/// Parses an attribute block, `(str16 key, str16 value)*` to its end, validating every string.
/// Error offsets are relative to the block, as in [`super::message::decode_attrs`].
#[inline]
pub(crate) fn parse_attrs(
    block: &[u8],
) -> Result<InlineVec<(&str, &str), INLINE_ATTRS>, ProtocolError> {
    // One UTF-8 pass over the whole block instead of one call per string. Length prefixes
    // below 128 are ASCII bytes, so a typical block is valid UTF-8 as a whole; each string is
    // then a subslice whose ends `str::get` checks as char boundaries in O(1), which is exactly
    // the condition for the subslice to be valid UTF-8 on its own. A block that fails (a string
    // of 128 bytes or more, or bad bytes) falls back to checking each string separately.
    let whole = std::str::from_utf8(block).ok();
    let mut r = Reader::new(block);
    let mut attrs = InlineVec::new();
    while !r.is_empty() {
        let key = str16_in(&mut r, whole, "attrKey")?;
        let value = str16_in(&mut r, whole, "attrValue")?;
        // A pair takes at least four bytes (two empty str16s).
        attrs.push((key, value), r.remaining() / 4);
    }
    Ok(attrs)
}

/// Reads a `str16` from `r`, taking it from `whole` (the reader's input, already validated)
/// when possible; same results and errors as [`Reader::str16_ref`].
#[inline]
fn str16_in<'a>(
    r: &mut Reader<'a>,
    whole: Option<&'a str>,
    field: &'static str,
) -> Result<&'a str, ProtocolError> {
    let raw = r.str16_bytes(field)?;
    let end = r.position();
    let start = end - raw.len();
    match whole.and_then(|s| s.get(start..end)) {
        Some(s) => Ok(s),
        None => std::str::from_utf8(raw).map_err(|_| ProtocolError::InvalidUtf8 {
            field,
            offset: start,
        }),
    }
}

/// A message payload decoded in place: every string borrows the input.
///
/// Same layout as [`Message`] (spec §3):
/// `i8 flag | i64 createdTime | i64 expire-or-schedule | str16 subject | str16 messageId
/// | [i8 tagCount, tagCount × str16] | i32 attrsLen | (str16 key, str16 value)*`.
/// Decoding validates everything [`Message::decode_payload`] does and allocates nothing for up
/// to [`INLINE_TAGS`] tags and [`INLINE_ATTRS`] attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef<'a> {
    header: HeaderRef<'a>,
    attrs: InlineVec<(&'a str, &'a str), INLINE_ATTRS>,
    payload: &'a [u8],
}

impl<'a> MessageRef<'a> {
    /// Decodes one payload from the start of `src`; returns the view and the bytes used.
    ///
    /// # Errors
    /// Any truncation, negative length or invalid UTF-8, as [`Message::decode_payload`].
    #[inline]
    pub fn decode_payload(src: &'a [u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let header = HeaderRef::read(&mut r)?;
        let (block, _) = read_attrs_block(&mut r)?;
        let attrs = parse_attrs(block)?;
        let used = r.position();
        Ok((
            Self {
                header,
                attrs,
                payload: &src[..used],
            },
            used,
        ))
    }

    /// Flag bits (`FLAG_*` in [`super::message`]).
    pub fn flag(&self) -> u8 {
        self.header.flag
    }

    /// Creation time, epoch milliseconds.
    pub fn created_time(&self) -> i64 {
        self.header.created_time
    }

    /// Schedule time for delay messages, otherwise the sender's clock at encode time.
    pub fn expire_or_schedule_time(&self) -> i64 {
        self.header.expire_or_schedule_time
    }

    /// Whether the message is a delay message (flag bit 1).
    pub fn is_delay(&self) -> bool {
        self.header.flag & FLAG_DELAY != 0
    }

    /// The subject.
    pub fn subject(&self) -> &'a str {
        self.header.subject
    }

    /// The message id.
    pub fn message_id(&self) -> &'a str {
        self.header.message_id
    }

    /// The tags in wire order (empty unless flag bit 2 is set).
    pub fn tags(&self) -> &[&'a str] {
        self.header.tags.as_slice()
    }

    /// The attributes in wire order.
    pub fn attrs(&self) -> &[(&'a str, &'a str)] {
        self.attrs.as_slice()
    }

    /// Looks an attribute up (the first with this key, as [`Message::attr`]).
    pub fn attr(&self, key: &str) -> Option<&'a str> {
        self.attrs()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// The payload bytes this view was decoded from, for storing or forwarding unchanged.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Copies the header into an owned [`MessageHeader`].
    pub fn to_header(&self) -> MessageHeader {
        self.header.to_header()
    }

    /// Copies the view into an owned [`Message`]: one allocation per string and per list, each
    /// sized exactly. Named `to_message` (not `to_owned`) so it does not shadow
    /// [`ToOwned::to_owned`], which on a `Clone` view returns another view.
    pub fn to_message(&self) -> Message {
        Message {
            header: self.header.to_header(),
            attrs: self
                .attrs()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

impl From<&MessageRef<'_>> for Message {
    fn from(view: &MessageRef<'_>) -> Self {
        view.to_message()
    }
}

/// A SEND record decoded in place: `i64 crc | payload` (spec §3), the borrowed twin of
/// [`super::message::RawMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef<'a> {
    record: &'a [u8],
    message: MessageRef<'a>,
}

impl<'a> RecordRef<'a> {
    /// Splits the first record off `src` (a slice of a SEND body) and decodes it in full.
    ///
    /// # Errors
    /// Any malformed field, attributes included; a CRC mismatch is *not* an error here (see
    /// [`RecordRef::crc_matches`]).
    #[inline]
    pub fn decode(src: &'a [u8]) -> Result<(Self, usize), ProtocolError> {
        Reader::new(src).i64("crc")?;
        let (message, used) = MessageRef::decode_payload(&src[8..])?;
        let len = 8 + used;
        Ok((
            Self {
                record: &src[..len],
                message,
            },
            len,
        ))
    }

    /// The CRC carried by the record (the low 32 bits of its leading `i64`).
    pub fn crc(&self) -> u32 {
        self.carried() as u32
    }

    /// Whether the carried CRC matches the payload (and the `i64` holds a 32-bit value).
    pub fn crc_matches(&self) -> bool {
        self.carried() == i64::from(crc32fast::hash(self.message.payload))
    }

    fn carried(&self) -> i64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.record[..8]);
        i64::from_be_bytes(b)
    }

    /// The whole record, CRC included.
    pub fn record(&self) -> &'a [u8] {
        self.record
    }

    /// The decoded message.
    pub fn message(&self) -> &MessageRef<'a> {
        &self.message
    }

    /// Gives the decoded message up.
    pub fn into_message(self) -> MessageRef<'a> {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::protocol::message::RawMessage;

    fn sample() -> Message {
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

    fn record_of(msg: &Message) -> BytesMut {
        let mut buf = BytesMut::new();
        msg.encode_record(&mut buf);
        buf
    }

    #[test]
    fn view_roundtrip_matches_owned_decode() {
        let msg = sample();
        let buf = record_of(&msg);
        let (rec, used) = RecordRef::decode(&buf).unwrap();
        assert_eq!(used, buf.len());
        assert!(rec.crc_matches());
        let view = rec.message();
        assert_eq!(view.subject(), "order.changed");
        assert_eq!(view.tags(), ["paid", "vip"]);
        assert_eq!(view.attr("k"), Some("ü"));
        assert_eq!(view.attr("missing"), None);
        assert!(!view.is_delay());
        assert_eq!(view.to_message(), msg);
        assert_eq!(Message::from(view), msg);
        let (owned, owned_used) = Message::decode_payload(view.payload()).unwrap();
        assert_eq!(
            (view.to_message(), view.payload().len()),
            (owned, owned_used)
        );
        let raw = RawMessage::decode(&buf.clone().freeze()).unwrap().0;
        assert_eq!(rec.crc(), raw.crc());
        assert_eq!(&raw.view().unwrap(), view);
        assert_eq!(raw.into_message().unwrap(), msg);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let buf = record_of(&sample());
        let payload = &buf[8..];
        for cut in 0..buf.len() {
            assert!(RecordRef::decode(&buf[..cut]).is_err(), "record cut {cut}");
        }
        for cut in 0..payload.len() {
            let view = MessageRef::decode_payload(&payload[..cut]);
            let owned = Message::decode_payload(&payload[..cut]);
            assert_eq!(view.map(|(v, u)| (v.to_message(), u)), owned, "cut {cut}");
        }
    }

    #[test]
    fn bad_utf8_and_negative_lengths_match_owned_errors() {
        let buf = record_of(&sample());
        let payload = buf[8..].to_vec();
        // Flip each byte to 0xff in turn: both decoders must agree on success or error.
        for at in 0..payload.len() {
            let mut bad = payload.clone();
            bad[at] = 0xff;
            let view = MessageRef::decode_payload(&bad).map(|(v, u)| (v.to_message(), u));
            assert_eq!(view, Message::decode_payload(&bad), "byte {at}");
        }
    }

    /// The per-string reference the whole-block UTF-8 shortcut of `parse_attrs` must match.
    fn attrs_one_by_one(block: &[u8]) -> Result<Vec<(&str, &str)>, ProtocolError> {
        let mut r = Reader::new(block);
        let mut out = Vec::new();
        while !r.is_empty() {
            out.push((r.str16_ref("attrKey")?, r.str16_ref("attrValue")?));
        }
        Ok(out)
    }

    #[test]
    fn whole_block_utf8_shortcut_matches_per_string_checks() {
        let mut msg = sample();
        // A 200-byte value has a length prefix (0x00 0xc8) that is not UTF-8 by itself.
        msg.attrs.push(("long".into(), "é".repeat(100)));
        msg.attrs.push(("a".into(), "b".into()));
        let mut buf = BytesMut::new();
        msg.encode_payload(&mut buf);
        let (_, range, _) = MessageHeader::decode_payload(&buf).unwrap();
        let block = buf[range].to_vec();
        let check = |bytes: &[u8], what: &str| {
            let fast = parse_attrs(bytes).map(|a| a.as_slice().to_vec());
            assert_eq!(fast, attrs_one_by_one(bytes), "{what}");
        };
        check(&block, "intact");
        check(&block[..block.len() - 1], "cut");
        // Bytes that start, continue or break multi-byte sequences, planted everywhere, also
        // inside length prefixes so that a sequence can straddle a prefix and its string.
        for at in 0..block.len() {
            for byte in [0x00, 0x41, 0x80, 0xa9, 0xc3, 0xe0, 0xf0, 0xff] {
                let mut bad = block.clone();
                bad[at] = byte;
                check(&bad, &format!("byte {at} = {byte:#x}"));
            }
        }
    }

    #[test]
    fn many_tags_and_attrs_spill_and_stay_in_order() {
        let mut msg = sample();
        msg.header.tags = (0..INLINE_TAGS + 3).map(|i| format!("t{i}")).collect();
        msg.attrs = (0..INLINE_ATTRS * 2 + 1)
            .map(|i| (format!("k{i}"), format!("v{i}")))
            .collect();
        let buf = record_of(&msg);
        let (rec, _) = RecordRef::decode(&buf).unwrap();
        assert_eq!(rec.message().tags().len(), INLINE_TAGS + 3);
        assert_eq!(rec.message().attrs().len(), INLINE_ATTRS * 2 + 1);
        assert_eq!(rec.into_message().to_message(), msg);
        let empty = Message::default();
        let buf = record_of(&empty);
        assert_eq!(
            RecordRef::decode(&buf).unwrap().0.message().to_message(),
            empty
        );
    }
}
