//! `ProducerMessage`: a message being built by a producer (spec §3, §7, §9).
//!
//! What it owns: the id, subject, tags and attributes of one message, and the rules for setting
//! them the way QMQ's `BaseMessage` does.
//!
//! Invariants:
//! * the reserved keys (`names::attr::RESERVED`) are set only by the producer itself
//!   (`qmq_createTime`, `qmq_expireTime` = create + 15 min, `qmq_appCode` at creation;
//!   `qmq_scheduleReceiveTime` through [`ProducerMessage::set_delay`]); user code cannot set them;
//! * every value fits one wire string (≤ 32767 UTF-8 bytes); larger values go through
//!   [`ProducerMessage::set_large_string`], QMQ's `key#part0..N` split of 8192 UTF-16 units;
//! * at most [`MAX_TAGS`] distinct, non-empty tags;
//! * whether the message is a *delay* message is decided when it is sent
//!   ([`ProducerMessage::into_wire`]): schedule − now ≥ 500 ms.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::client::error::ClientError;
use crate::protocol::ClientType;
use crate::protocol::message::{
    FLAG_DELAY, FLAG_TAGS, MAX_MESSAGE_ID_LEN, MAX_TAGS, Message, MessageHeader,
};
use crate::protocol::names::{attr, is_valid_name};

/// Longest attribute key or value: one `str16`.
pub const MAX_VALUE_LEN: usize = i16::MAX as usize;
/// UTF-16 units per part of a large string (QMQ's `LargeStringUtil`, 32 KB / 4).
pub const LARGE_STRING_PART: usize = 8192;
/// A message whose delivery time is at least this far ahead is a delay message (spec §3).
pub const DELAY_THRESHOLD: Duration = Duration::from_millis(500);
/// `qmq_expireTime` = creation + this (informational only).
pub const EXPIRE_AFTER: Duration = Duration::from_secs(15 * 60);

/// A message under construction. Create it with
/// [`Producer::generate_message`](super::Producer::generate_message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerMessage {
    message: Message,
    /// Delivery time in epoch ms, if set.
    schedule_ms: Option<i64>,
}

/// A message ready for the wire: its record (with CRC) and where it must be routed.
#[derive(Debug, Clone)]
pub(crate) struct WireMessage {
    pub(crate) message_id: String,
    pub(crate) subject: String,
    pub(crate) client_type: ClientType,
    pub(crate) record: Bytes,
}

impl ProducerMessage {
    /// A new message with the producer-owned attributes set.
    ///
    /// # Errors
    /// [`ClientError::InvalidName`] for a bad subject, [`ClientError::InvalidMessage`] for an
    /// id longer than 100 characters.
    pub(crate) fn new(
        message_id: String,
        subject: &str,
        app_code: &str,
        now: SystemTime,
    ) -> Result<Self, ClientError> {
        if !is_valid_name(subject) {
            return Err(ClientError::InvalidName {
                what: "subject",
                name: subject.to_owned(),
            });
        }
        if message_id.is_empty() || message_id.len() > MAX_MESSAGE_ID_LEN {
            return Err(ClientError::InvalidMessage {
                reason: format!("message id must have 1..={MAX_MESSAGE_ID_LEN} bytes"),
            });
        }
        let created = epoch_ms(now)?;
        let expire = created.saturating_add(EXPIRE_AFTER.as_millis() as i64);
        let message = Message {
            header: MessageHeader {
                flag: 0,
                created_time: created,
                expire_or_schedule_time: expire,
                subject: subject.to_owned(),
                message_id,
                tags: Vec::new(),
            },
            attrs: vec![
                (attr::CREATE_TIME.to_owned(), created.to_string()),
                (attr::EXPIRE_TIME.to_owned(), expire.to_string()),
                (attr::APP_CODE.to_owned(), app_code.to_owned()),
            ],
        };
        Ok(Self {
            message,
            schedule_ms: None,
        })
    }

    /// A message rebuilt from a stored copy (the outbox's `content` column): id, subject, tags
    /// and every attribute — reserved ones included — exactly as stored, and the delivery time
    /// taken back from `qmq_scheduleReceiveTime`. The caller has checked the subject.
    pub(crate) fn restore(message: Message) -> Self {
        let schedule_ms = message
            .attr(attr::SCHEDULE_RECEIVE_TIME)
            .and_then(|v| v.parse::<i64>().ok());
        Self {
            message,
            schedule_ms,
        }
    }

    /// Sets an attribute without the reserved-key check: for keys the client itself owns,
    /// such as the watchdog's `qmq_sequence`.
    pub(crate) fn set_reserved(&mut self, key: &str, value: String) {
        self.message.set_attr(key, value);
    }

    /// The message id (QMQ format, spec §8).
    pub fn message_id(&self) -> &str {
        &self.message.header.message_id
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.message.header.subject
    }

    /// The tags, in the order they were added.
    pub fn tags(&self) -> &[String] {
        &self.message.header.tags
    }

    /// A property (user or reserved); large strings are read with
    /// [`ProducerMessage::get_large_string`].
    pub fn property(&self, key: &str) -> Option<&str> {
        self.message.attr(key)
    }

    /// Every attribute as it will go on the wire.
    pub fn properties(&self) -> &[(String, String)] {
        &self.message.attrs
    }

    /// Sets a string property. Numbers, booleans and dates are sent as strings by QMQ too
    /// (`to_string()` them; dates as epoch milliseconds).
    ///
    /// # Errors
    /// [`ClientError::ReservedProperty`] for a key QMQ reserves, [`ClientError::InvalidMessage`]
    /// for an empty or over-long key, [`ClientError::PropertyTooLong`] for a value over
    /// 32767 UTF-8 bytes (use [`ProducerMessage::set_large_string`]).
    pub fn set_property(
        &mut self,
        key: &str,
        value: impl Into<String>,
    ) -> Result<&mut Self, ClientError> {
        check_key(key)?;
        let value = value.into();
        if value.len() > MAX_VALUE_LEN {
            return Err(ClientError::PropertyTooLong {
                key: key.to_owned(),
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        self.message.set_attr(key, value);
        Ok(self)
    }

    /// Stores a value of any length as QMQ's large string: properties `key#part0`,
    /// `key#part1`, … of at most 8192 UTF-16 units each (a character is never split). Parts
    /// left from an earlier, longer value are removed. Read it back with
    /// [`ProducerMessage::get_large_string`] (or Java's `LargeStringUtil.getLargeString`).
    ///
    /// # Errors
    /// As [`ProducerMessage::set_property`] for the key.
    pub fn set_large_string(&mut self, key: &str, value: &str) -> Result<&mut Self, ClientError> {
        check_key(key)?;
        let prefix = format!("{key}#part");
        if prefix.len() + 10 > MAX_VALUE_LEN {
            return Err(ClientError::InvalidMessage {
                reason: format!("large-string key of {} bytes is too long", key.len()),
            });
        }
        self.message.attrs.retain(|(k, _)| !is_part_key(k, &prefix));
        for (index, part) in split_utf16(value, LARGE_STRING_PART)
            .into_iter()
            .enumerate()
        {
            self.message
                .attrs
                .push((format!("{prefix}{index}"), part.to_owned()));
        }
        Ok(self)
    }

    /// Joins `key#part0`, `key#part1`, … until a part is missing; `None` if there is no part 0.
    pub fn get_large_string(&self, key: &str) -> Option<String> {
        get_large_string(&self.message.attrs, key)
    }

    /// Adds a tag (server-side filter). Adding a tag twice keeps one.
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] for an empty or over-long tag, or an 11th tag.
    pub fn add_tag(&mut self, tag: &str) -> Result<&mut Self, ClientError> {
        if tag.is_empty() || tag.len() > MAX_VALUE_LEN {
            return Err(ClientError::InvalidMessage {
                reason: format!("tag must have 1..={MAX_VALUE_LEN} bytes"),
            });
        }
        let tags = &mut self.message.header.tags;
        if tags.iter().any(|t| t == tag) {
            return Ok(self);
        }
        if tags.len() >= MAX_TAGS {
            return Err(ClientError::InvalidMessage {
                reason: format!("a message has at most {MAX_TAGS} tags"),
            });
        }
        tags.push(tag.to_owned());
        Ok(self)
    }

    /// Delivers the message `delay` from now (`qmq_scheduleReceiveTime`). Less than 500 ms
    /// ahead at send time means an ordinary message.
    ///
    /// # Errors
    /// [`ClientError::InvalidScheduleTime`] if now + `delay` is not representable.
    pub fn set_delay(&mut self, delay: Duration) -> Result<&mut Self, ClientError> {
        let at = SystemTime::now()
            .checked_add(delay)
            .ok_or(ClientError::InvalidScheduleTime {
                reason: "now + delay overflows",
            })?;
        self.set_delay_until(at)
    }

    /// Delivers the message at `at` (`qmq_scheduleReceiveTime`, epoch ms).
    ///
    /// # Errors
    /// [`ClientError::InvalidScheduleTime`] for a time before 1970 or beyond `i64` milliseconds.
    pub fn set_delay_until(&mut self, at: SystemTime) -> Result<&mut Self, ClientError> {
        let ms = epoch_ms(at)?;
        self.schedule_ms = Some(ms);
        self.message
            .set_attr(attr::SCHEDULE_RECEIVE_TIME, ms.to_string());
        Ok(self)
    }

    /// The delivery time set with `set_delay*`.
    pub fn schedule_time(&self) -> Option<SystemTime> {
        self.schedule_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
    }

    /// Sets `qmq_maxRetryNum`: how often consumers retry this message before it goes to the
    /// dead-letter subject (instead of their own default).
    pub fn set_max_retries(&mut self, max: u32) -> &mut Self {
        self.message.set_attr(attr::MAX_RETRY_NUM, max.to_string());
        self
    }

    /// Whether the message would be sent as a delay message at `now`.
    pub fn is_delay_at(&self, now: SystemTime) -> bool {
        match (self.schedule_ms, epoch_ms(now)) {
            (Some(at), Ok(now)) => at.saturating_sub(now) >= DELAY_THRESHOLD.as_millis() as i64,
            _ => false,
        }
    }

    /// Encodes the SEND record as of `now`: flags, the schedule or send time in the header,
    /// and the route (delay server or broker).
    ///
    /// # Errors
    /// [`ClientError::InvalidMessage`] if a wire limit is broken.
    pub(crate) fn into_wire(self, now: SystemTime) -> Result<WireMessage, ClientError> {
        let delay = self.is_delay_at(now);
        let mut message = self.message;
        let header = &mut message.header;
        header.flag = 0;
        if !header.tags.is_empty() {
            header.flag |= FLAG_TAGS;
        }
        match (delay, self.schedule_ms) {
            (true, Some(at)) => {
                header.flag |= FLAG_DELAY;
                header.expire_or_schedule_time = at;
            }
            // Java writes its clock here for ordinary messages; nobody reads it (spec §13.7).
            _ => header.expire_or_schedule_time = epoch_ms(now).unwrap_or(header.created_time),
        }
        message
            .validate()
            .map_err(|e| ClientError::InvalidMessage {
                reason: e.to_string(),
            })?;
        let mut buf = BytesMut::with_capacity(message.record_len());
        message.encode_record(&mut buf);
        Ok(WireMessage {
            client_type: if delay {
                ClientType::DelayProducer
            } else {
                ClientType::Producer
            },
            message_id: message.header.message_id,
            subject: message.header.subject,
            record: buf.freeze(),
        })
    }
}

/// Joins QMQ large-string parts found in `attrs` (also for consumers of received messages).
pub fn get_large_string(attrs: &[(String, String)], key: &str) -> Option<String> {
    let find = |index: usize| {
        let part = format!("{key}#part{index}");
        attrs
            .iter()
            .find(|(k, _)| *k == part)
            .map(|(_, v)| v.as_str())
    };
    let mut out = String::from(find(0)?);
    let mut index = 1;
    while let Some(part) = find(index) {
        out.push_str(part);
        index += 1;
    }
    Some(out)
}

fn check_key(key: &str) -> Result<(), ClientError> {
    if attr::RESERVED.contains(&key) {
        return Err(ClientError::ReservedProperty {
            key: key.to_owned(),
        });
    }
    if key.is_empty() || key.len() > MAX_VALUE_LEN {
        return Err(ClientError::InvalidMessage {
            reason: format!("property key must have 1..={MAX_VALUE_LEN} bytes"),
        });
    }
    Ok(())
}

fn is_part_key(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Splits `value` into pieces of at most `units` UTF-16 code units without splitting a
/// character. An empty value gives one empty piece (so part 0 exists, as in Java).
fn split_utf16(value: &str, units: usize) -> Vec<&str> {
    let mut parts = Vec::with_capacity(value.len() / units + 1);
    let mut start = 0;
    let mut count = 0;
    for (at, c) in value.char_indices() {
        if count + c.len_utf16() > units {
            parts.push(&value[start..at]);
            start = at;
            count = 0;
        }
        count += c.len_utf16();
    }
    if start < value.len() || parts.is_empty() {
        parts.push(&value[start..]);
    }
    parts
}

/// Milliseconds since the epoch.
fn epoch_ms(at: SystemTime) -> Result<i64, ClientError> {
    let since = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ClientError::InvalidScheduleTime {
            reason: "before 1970-01-01",
        })?;
    i64::try_from(since.as_millis()).map_err(|_| ClientError::InvalidScheduleTime {
        reason: "beyond the epoch-millisecond range",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::RawMessage;

    fn msg() -> ProducerMessage {
        ProducerMessage::new("id-1".into(), "order.changed", "app", SystemTime::now()).unwrap()
    }

    fn decode(w: &WireMessage) -> crate::protocol::Message {
        let (raw, used) = RawMessage::decode(&w.record).unwrap();
        assert_eq!(used, w.record.len());
        assert!(raw.crc_matches());
        raw.to_message().unwrap()
    }

    #[test]
    fn new_message_has_producer_attributes() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let m = ProducerMessage::new("id".into(), "s", "app1", now).unwrap();
        assert_eq!(m.property(attr::CREATE_TIME), Some("1700000000123"));
        assert_eq!(m.property(attr::EXPIRE_TIME), Some("1700000900123"));
        assert_eq!(m.property(attr::APP_CODE), Some("app1"));
        assert!(ProducerMessage::new("id".into(), "a b", "app", now).is_err());
        assert!(ProducerMessage::new("x".repeat(101), "s", "app", now).is_err());
    }

    #[test]
    fn reserved_keys_are_rejected() {
        let mut m = msg();
        for key in attr::RESERVED {
            assert!(
                matches!(
                    m.set_property(key, "1"),
                    Err(ClientError::ReservedProperty { .. })
                ),
                "{key}"
            );
            assert!(m.set_large_string(key, "1").is_err());
        }
        assert!(m.set_property("", "v").is_err());
        m.set_property("k", "v")
            .unwrap()
            .set_property("k", "w")
            .unwrap();
        assert_eq!(m.property("k"), Some("w"));
    }

    #[test]
    fn values_over_32k_point_at_set_large_string() {
        let mut m = msg();
        m.set_property("k", "x".repeat(MAX_VALUE_LEN)).unwrap();
        let err = m
            .set_property("k", "x".repeat(MAX_VALUE_LEN + 1))
            .unwrap_err();
        assert!(matches!(
            err,
            ClientError::PropertyTooLong { len: 32768, .. }
        ));
        assert!(err.to_string().contains("set_large_string"));
    }

    #[test]
    fn large_strings_split_in_8192_unit_parts_and_roundtrip() {
        let mut m = msg();
        let value: String = "ab€".repeat(10_000); // 30 000 UTF-16 units, 50 000 bytes
        m.set_large_string("big", &value).unwrap();
        assert_eq!(
            m.property("big#part0").unwrap().encode_utf16().count(),
            8192
        );
        assert_eq!(
            m.property("big#part3").unwrap().encode_utf16().count(),
            30_000 - 3 * 8192
        );
        assert!(m.property("big#part4").is_none());
        assert_eq!(m.get_large_string("big").as_deref(), Some(value.as_str()));
        // A shorter value replaces every old part; the record stays encodable.
        m.set_large_string("big", "small").unwrap();
        assert!(m.property("big#part1").is_none());
        assert_eq!(m.get_large_string("big").as_deref(), Some("small"));
        let wire = m.clone().into_wire(SystemTime::now()).unwrap();
        assert_eq!(
            get_large_string(&decode(&wire).attrs, "big").as_deref(),
            Some("small")
        );
        m.set_large_string("empty", "").unwrap();
        assert_eq!(m.get_large_string("empty").as_deref(), Some(""));
        assert_eq!(m.get_large_string("missing"), None);
    }

    #[test]
    fn surrogate_pairs_are_never_split() {
        let value = format!("a{}", "😀".repeat(5000)); // 1 + 10 000 units
        let parts = split_utf16(&value, LARGE_STRING_PART);
        assert_eq!(parts.concat(), value);
        assert!(
            parts
                .iter()
                .all(|p| p.encode_utf16().count() <= LARGE_STRING_PART)
        );
        assert_eq!(parts[0].encode_utf16().count(), 8191);
    }

    #[test]
    fn tags_are_limited_and_deduplicated() {
        let mut m = msg();
        for i in 0..MAX_TAGS {
            m.add_tag(&format!("t{i}")).unwrap();
        }
        m.add_tag("t0").unwrap();
        assert!(m.add_tag("t10").is_err());
        assert!(msg().add_tag("").is_err());
        let wire = m.clone().into_wire(SystemTime::now()).unwrap();
        let decoded = decode(&wire);
        assert_eq!(decoded.header.flag & FLAG_TAGS, FLAG_TAGS);
        assert_eq!(decoded.header.tags.len(), MAX_TAGS);
    }

    #[test]
    fn delay_needs_500_ms_and_goes_to_delay_producer_route() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut m = msg();
        m.set_delay_until(now + Duration::from_millis(499)).unwrap();
        let w = m.clone().into_wire(now).unwrap();
        assert_eq!(w.client_type, ClientType::Producer);
        let d = decode(&w);
        assert_eq!(d.header.flag & FLAG_DELAY, 0);
        assert_eq!(d.header.expire_or_schedule_time, 1_700_000_000_000);
        assert_eq!(d.attr(attr::SCHEDULE_RECEIVE_TIME), Some("1700000000499"));

        m.set_delay_until(now + Duration::from_millis(500)).unwrap();
        let w = m.clone().into_wire(now).unwrap();
        assert_eq!(w.client_type, ClientType::DelayProducer);
        let d = decode(&w);
        assert_eq!(d.header.flag & FLAG_DELAY, FLAG_DELAY);
        assert_eq!(d.header.expire_or_schedule_time, 1_700_000_000_500);
        assert_eq!(m.schedule_time(), Some(now + Duration::from_millis(500)));

        m.set_delay(Duration::from_secs(60)).unwrap();
        assert!(m.is_delay_at(SystemTime::now()));
        assert!(!msg().is_delay_at(now));
    }

    #[test]
    fn bad_schedule_times_are_errors() {
        let mut m = msg();
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            m.set_delay_until(before),
            Err(ClientError::InvalidScheduleTime { .. })
        ));
        assert!(matches!(
            m.set_delay(Duration::MAX),
            Err(ClientError::InvalidScheduleTime { .. })
        ));
        assert!(m.schedule_time().is_none());
    }
}
