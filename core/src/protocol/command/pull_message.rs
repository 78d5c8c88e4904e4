//! PULL_MESSAGE (11), spec §4.
//!
//! ```text
//! request:  str16 subject | str16 group | str16 consumerId | i32 requestNum | i64 offset(-1)
//!           | i64 pullOffsetBegin | i64 pullOffsetLast | i64 timeoutMillis | i8 isBroadcast
//!           | filters: v<8 none; v8 one tag filter (i16 tagType, i8 n, n × str16);
//!                      v9 i32 count, count × (i16 type, payload)
//! response: i64 pullLogOffset of the first message | i64 -1 | payloads back to back
//! ```

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::error::ProtocolError;
use crate::protocol::frame::{VERSION_8, VERSION_9};
use crate::protocol::message::Message;

/// How a tag filter combines its tags. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i16)]
pub enum TagType {
    /// No filtering.
    #[default]
    NoTag = 0,
    /// The message carries at least one of the tags.
    Or = 1,
    /// The message carries all of the tags.
    And = 2,
}

impl TagType {
    /// Maps a wire value.
    ///
    /// # Errors
    /// [`ProtocolError::UnknownValue`] for other values.
    pub fn from_i16(value: i16) -> Result<Self, ProtocolError> {
        match value {
            0 => Ok(Self::NoTag),
            1 => Ok(Self::Or),
            2 => Ok(Self::And),
            _ => Err(ProtocolError::UnknownValue {
                field: "tagType",
                value: i64::from(value),
            }),
        }
    }
}

/// Filter type codes of v9 pulls.
const FILTER_TAG: i16 = 1;
const FILTER_SUB_ENV_ISOLATION: i16 = 2;

/// A server-side pull filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullFilter {
    /// Tag filter (type 1).
    Tag {
        /// How the tags combine.
        tag_type: TagType,
        /// The tags.
        tags: Vec<String>,
    },
    /// Sub-environment isolation (type 2).
    SubEnvIsolation {
        /// Environment.
        env: String,
        /// Sub-environment.
        sub_env: String,
    },
}

impl PullFilter {
    /// Whether a message with `message_tags` passes (sub-env filters always pass here; brokers
    /// that enable isolation check them against their rules).
    pub fn matches_tags<S: AsRef<str>>(&self, message_tags: &[S]) -> bool {
        match self {
            PullFilter::Tag { tag_type, tags } => match tag_type {
                TagType::NoTag => true,
                _ if tags.is_empty() => true,
                _ if message_tags.is_empty() => false,
                TagType::Or => tags
                    .iter()
                    .any(|t| message_tags.iter().any(|m| m.as_ref() == t)),
                TagType::And => tags
                    .iter()
                    .all(|t| message_tags.iter().any(|m| m.as_ref() == t)),
            },
            PullFilter::SubEnvIsolation { .. } => true,
        }
    }

    fn tag_body_len(tags: &[String]) -> usize {
        2 + 1 + tags.iter().map(|t| str16_len(t)).sum::<usize>()
    }

    fn encode_tag_body(tag_type: TagType, tags: &[String], dst: &mut BytesMut) {
        dst.put_i16(tag_type as i16);
        let count = tags.len().min(i8::MAX as usize);
        dst.put_u8(count as u8);
        for tag in &tags[..count] {
            put_str16(dst, tag);
        }
    }

    fn read_tag_body(r: &mut Reader<'_>) -> Result<Self, ProtocolError> {
        let tag_type = TagType::from_i16(r.i16("tagType")?)?;
        let at = r.position();
        let count = r.i8("tagCount")?;
        if count < 0 {
            return Err(ProtocolError::NegativeLength {
                field: "tagCount",
                offset: at,
                length: i64::from(count),
            });
        }
        // The count is untrusted: reserve no more than the body can hold (a str16 takes two bytes).
        let mut tags = Vec::with_capacity(r.capacity_for(count as usize, 2));
        for _ in 0..count {
            tags.push(r.str16("tag")?);
        }
        Ok(Self::Tag { tag_type, tags })
    }
}

/// A pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Real subject or `%RETRY%<subject>%<group>`.
    pub subject: String,
    /// Consumer group (broadcast: the client id).
    pub group: String,
    /// Consumer (client) id.
    pub consumer_id: String,
    /// Batch size.
    pub request_num: i32,
    /// Always −1; ignored by servers.
    pub offset: i64,
    /// Smallest not-yet-acked pull offset known to the client, −1 if none.
    pub pull_offset_begin: i64,
    /// Largest pull offset the client has received, −1 if none.
    pub pull_offset_last: i64,
    /// Long-poll time in ms: <0 pull once, 0 no wait.
    pub timeout_millis: i64,
    /// Broadcast consumption.
    pub is_broadcast: bool,
    /// Filters (all must match).
    pub filters: Vec<PullFilter>,
}

impl PullRequest {
    /// Encoded size at `version`.
    pub fn encoded_len(&self, version: i16) -> usize {
        let fixed = str16_len(&self.subject)
            + str16_len(&self.group)
            + str16_len(&self.consumer_id)
            + 4
            + 8 * 4
            + 1;
        fixed + self.filters_len(version)
    }

    fn first_tag_filter(&self) -> (TagType, &[String]) {
        self.filters
            .iter()
            .find_map(|f| match f {
                PullFilter::Tag { tag_type, tags } => Some((*tag_type, tags.as_slice())),
                PullFilter::SubEnvIsolation { .. } => None,
            })
            .unwrap_or((TagType::NoTag, &[]))
    }

    fn filters_len(&self, version: i16) -> usize {
        if version < VERSION_8 {
            0
        } else if version == VERSION_8 {
            PullFilter::tag_body_len(self.first_tag_filter().1)
        } else {
            4 + self
                .filters
                .iter()
                .map(|f| {
                    2 + match f {
                        PullFilter::Tag { tags, .. } => PullFilter::tag_body_len(tags),
                        PullFilter::SubEnvIsolation { env, sub_env } => {
                            str16_len(env) + str16_len(sub_env)
                        }
                    }
                })
                .sum::<usize>()
        }
    }

    /// Appends the body in the dialect of `version` (v8 carries only the first tag filter).
    pub fn encode(&self, version: i16, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len(version));
        put_str16(dst, &self.subject);
        put_str16(dst, &self.group);
        put_str16(dst, &self.consumer_id);
        dst.put_i32(self.request_num);
        dst.put_i64(self.offset);
        dst.put_i64(self.pull_offset_begin);
        dst.put_i64(self.pull_offset_last);
        dst.put_i64(self.timeout_millis);
        dst.put_u8(u8::from(self.is_broadcast));
        if version < VERSION_8 {
            return;
        }
        if version == VERSION_8 {
            let (tag_type, tags) = self.first_tag_filter();
            PullFilter::encode_tag_body(tag_type, tags, dst);
            return;
        }
        dst.put_i32(self.filters.len() as i32);
        for filter in &self.filters {
            match filter {
                PullFilter::Tag { tag_type, tags } => {
                    dst.put_i16(FILTER_TAG);
                    PullFilter::encode_tag_body(*tag_type, tags, dst);
                }
                PullFilter::SubEnvIsolation { env, sub_env } => {
                    dst.put_i16(FILTER_SUB_ENV_ISOLATION);
                    put_str16(dst, env);
                    put_str16(dst, sub_env);
                }
            }
        }
    }

    /// Decodes a body sent at `version`.
    ///
    /// # Errors
    /// A malformed field, an unknown filter type, or a negative filter count.
    pub fn decode(src: &[u8], version: i16) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let subject = r.str16("subject")?;
        let group = r.str16("group")?;
        let consumer_id = r.str16("consumerId")?;
        let request_num = r.i32("requestNum")?;
        let offset = r.i64("offset")?;
        let pull_offset_begin = r.i64("pullOffsetBegin")?;
        let pull_offset_last = r.i64("pullOffsetLast")?;
        let timeout_millis = r.i64("timeoutMillis")?;
        let is_broadcast = r.bool("isBroadcast")?;
        let mut filters = Vec::new();
        if version == VERSION_8 {
            filters.push(PullFilter::read_tag_body(&mut r)?);
        } else if version >= VERSION_9 {
            let at = r.position();
            let count = r.i32("filterCount")?;
            if count < 0 {
                return Err(ProtocolError::NegativeLength {
                    field: "filterCount",
                    offset: at,
                    length: i64::from(count),
                });
            }
            for _ in 0..count {
                let kind = r.i16("filterType")?;
                filters.push(match kind {
                    FILTER_TAG => PullFilter::read_tag_body(&mut r)?,
                    FILTER_SUB_ENV_ISOLATION => PullFilter::SubEnvIsolation {
                        env: r.str16("env")?,
                        sub_env: r.str16("subEnv")?,
                    },
                    other => {
                        return Err(ProtocolError::UnknownValue {
                            field: "filterType",
                            value: i64::from(other),
                        });
                    }
                });
            }
        }
        Ok((
            Self {
                subject,
                group,
                consumer_id,
                request_num,
                offset,
                pull_offset_begin,
                pull_offset_last,
                timeout_millis,
                is_broadcast,
                filters,
            },
            r.position(),
        ))
    }

    /// Whether a message with `message_tags` passes every filter.
    pub fn matches_tags<S: AsRef<str>>(&self, message_tags: &[S]) -> bool {
        self.filters.iter().all(|f| f.matches_tags(message_tags))
    }
}

/// A successful pull response: the first message's pull offset and the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullMessageResponse {
    /// Pull offset of the first message; message *i* has `pull_log_offset + i`.
    pub pull_log_offset: i64,
    /// Reserved, −1.
    pub consumer_offset: i64,
    /// The messages.
    pub messages: Vec<Message>,
}

impl PullMessageResponse {
    /// Length of the fixed part before the payloads.
    pub const PREFIX_LEN: usize = 16;

    /// Appends the fixed part; the server then appends stored payloads unchanged.
    pub fn encode_prefix(pull_log_offset: i64, dst: &mut BytesMut) {
        dst.put_i64(pull_log_offset);
        dst.put_i64(-1);
    }

    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        Self::PREFIX_LEN
            + self
                .messages
                .iter()
                .map(Message::payload_len)
                .sum::<usize>()
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_i64(self.pull_log_offset);
        dst.put_i64(self.consumer_offset);
        for message in &self.messages {
            message.encode_payload(dst);
        }
    }

    /// Decodes a whole body.
    ///
    /// # Errors
    /// A malformed message.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let pull_log_offset = r.i64("pullLogOffset")?;
        let consumer_offset = r.i64("consumerOffset")?;
        let mut at = r.position();
        let mut messages = Vec::new();
        while at < src.len() {
            let (message, used) = Message::decode_payload(&src[at..])?;
            messages.push(message);
            at += used;
        }
        Ok((
            Self {
                pull_log_offset,
                consumer_offset,
                messages,
            },
            at,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(filters: Vec<PullFilter>) -> PullRequest {
        PullRequest {
            subject: "order.changed".into(),
            group: "g1".into(),
            consumer_id: "host@@abc".into(),
            request_num: 50,
            offset: -1,
            pull_offset_begin: 3,
            pull_offset_last: 9,
            timeout_millis: 2500,
            is_broadcast: true,
            filters,
        }
    }

    #[test]
    fn roundtrip_every_version() {
        let tag = PullFilter::Tag {
            tag_type: TagType::And,
            tags: vec!["a".into(), "b".into()],
        };
        let env = PullFilter::SubEnvIsolation {
            env: "e".into(),
            sub_env: "s".into(),
        };
        let v9 = sample(vec![tag.clone(), env]);
        let mut buf = BytesMut::new();
        v9.encode(VERSION_9, &mut buf);
        assert_eq!(buf.len(), v9.encoded_len(VERSION_9));
        assert_eq!(
            PullRequest::decode(&buf, VERSION_9).unwrap(),
            (v9.clone(), buf.len())
        );
        for cut in 0..buf.len() {
            assert!(
                PullRequest::decode(&buf[..cut], VERSION_9).is_err(),
                "cut {cut}"
            );
        }

        let v8 = sample(vec![tag]);
        let mut buf = BytesMut::new();
        v8.encode(VERSION_8, &mut buf);
        assert_eq!(buf.len(), v8.encoded_len(VERSION_8));
        assert_eq!(
            PullRequest::decode(&buf, VERSION_8).unwrap(),
            (v8, buf.len())
        );

        let v7 = sample(vec![]);
        let mut buf = BytesMut::new();
        v7.encode(7, &mut buf);
        assert_eq!(PullRequest::decode(&buf, 7).unwrap(), (v7, buf.len()));
    }

    #[test]
    fn v8_and_filter_from_spec_decodes() {
        let mut buf = BytesMut::new();
        sample(vec![]).encode(7, &mut buf);
        buf.extend_from_slice(&[0x00, 0x02, 0x02, 0x00, 0x01, 0x61, 0x00, 0x01, 0x62]);
        let (req, _) = PullRequest::decode(&buf, VERSION_8).unwrap();
        assert_eq!(
            req.filters,
            vec![PullFilter::Tag {
                tag_type: TagType::And,
                tags: vec!["a".into(), "b".into()]
            }]
        );
    }

    #[test]
    fn unknown_filter_and_tag_type_are_errors() {
        let mut buf = BytesMut::new();
        sample(vec![]).encode(7, &mut buf);
        let mut bad_filter = buf.clone();
        bad_filter.extend_from_slice(&[0, 0, 0, 1, 0, 9]);
        assert!(matches!(
            PullRequest::decode(&bad_filter, VERSION_9),
            Err(ProtocolError::UnknownValue {
                field: "filterType",
                value: 9
            })
        ));
        let mut bad_tag_type = buf.clone();
        bad_tag_type.extend_from_slice(&[0, 7, 0]);
        assert!(PullRequest::decode(&bad_tag_type, VERSION_8).is_err());
        let mut negative = buf;
        negative.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert!(PullRequest::decode(&negative, VERSION_9).is_err());
    }

    #[test]
    fn tag_matching_semantics() {
        let or = PullFilter::Tag {
            tag_type: TagType::Or,
            tags: vec!["a".into(), "b".into()],
        };
        let and = PullFilter::Tag {
            tag_type: TagType::And,
            tags: vec!["a".into(), "b".into()],
        };
        let none = PullFilter::Tag {
            tag_type: TagType::NoTag,
            tags: vec![],
        };
        assert!(or.matches_tags(&["b"]));
        assert!(!or.matches_tags(&["c"]));
        assert!(!or.matches_tags::<&str>(&[]));
        assert!(and.matches_tags(&["b", "a", "c"]));
        assert!(!and.matches_tags(&["a"]));
        assert!(none.matches_tags::<&str>(&[]));
    }

    #[test]
    fn response_roundtrip() {
        let resp = PullMessageResponse {
            pull_log_offset: 7,
            consumer_offset: -1,
            messages: vec![Message::default(), Message::default()],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        assert_eq!(buf.len(), resp.encoded_len());
        assert_eq!(
            PullMessageResponse::decode(&buf).unwrap(),
            (resp, buf.len())
        );
        for cut in 0..buf.len() {
            if cut == 16 || cut == 16 + Message::default().payload_len() {
                continue;
            }
            assert!(
                PullMessageResponse::decode(&buf[..cut]).is_err(),
                "cut {cut}"
            );
        }
    }
}
