//! SEND_MESSAGE (10), spec §3.
//!
//! Request body: N SEND records back to back (see [`crate::protocol::message`]); the receiver
//! reads until the body is exhausted. Response body: one entry per *failed* message,
//! `str16 messageId, i32 code, str16 remark`; an empty body means every message was stored.

use bytes::{BufMut, Bytes, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::error::ProtocolError;
use crate::protocol::message::{Message, RawMessage};

/// Per-message result codes of a SEND (spec §3). Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
#[non_exhaustive]
pub enum MessageProducerCode {
    /// Stored.
    Success = 0,
    /// The broker is overloaded; the Java client does not resend.
    BrokerBusy = 1,
    /// Already stored; treated as success.
    MessageDuplicate = 2,
    /// The subject is not accepted by this broker (also: illegal subject).
    SubjectNotAssigned = 3,
    /// The broker cannot take writes now; route elsewhere.
    BrokerReadOnly = 4,
    /// Blocked by policy.
    Block = 5,
    /// Storing failed.
    StoreError = 6,
}

impl MessageProducerCode {
    /// Maps a wire value to a known code.
    pub fn from_i32(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::BrokerBusy,
            2 => Self::MessageDuplicate,
            3 => Self::SubjectNotAssigned,
            4 => Self::BrokerReadOnly,
            5 => Self::Block,
            6 => Self::StoreError,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// A SEND request: the records as received, each with its header decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageRequest {
    /// The records in wire order.
    pub messages: Vec<RawMessage>,
}

impl SendMessageRequest {
    /// Splits a SEND body into records without copying them.
    ///
    /// # Errors
    /// A malformed record; nothing of the body is accepted then.
    pub fn decode(body: &Bytes) -> Result<Self, ProtocolError> {
        let mut messages = Vec::new();
        let mut at = 0;
        while at < body.len() {
            let rest = body.slice(at..);
            let (raw, used) = RawMessage::decode(&rest).map_err(|e| shift(e, at))?;
            messages.push(raw);
            at += used;
        }
        Ok(Self { messages })
    }

    /// Encoded size of a body holding `messages`.
    pub fn encoded_len_of(messages: &[Message]) -> usize {
        messages.iter().map(Message::record_len).sum()
    }

    /// Appends a body holding `messages` (each record with its CRC).
    pub fn encode_messages(messages: &[Message], dst: &mut BytesMut) {
        dst.reserve(Self::encoded_len_of(messages));
        for message in messages {
            message.encode_record(dst);
        }
    }

    /// Encoded size of this request.
    pub fn encoded_len(&self) -> usize {
        self.messages.iter().map(|m| m.record.len()).sum()
    }

    /// Appends the records unchanged (as the delay server forwards them).
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        for message in &self.messages {
            dst.put_slice(&message.record);
        }
    }
}

/// Moves a decode error's offset from record-relative to body-relative.
fn shift(err: ProtocolError, by: usize) -> ProtocolError {
    match err {
        ProtocolError::Truncated {
            field,
            offset,
            needed,
            available,
        } => ProtocolError::Truncated {
            field,
            offset: offset + by,
            needed,
            available,
        },
        ProtocolError::NegativeLength {
            field,
            offset,
            length,
        } => ProtocolError::NegativeLength {
            field,
            offset: offset + by,
            length,
        },
        ProtocolError::InvalidUtf8 { field, offset } => ProtocolError::InvalidUtf8 {
            field,
            offset: offset + by,
        },
        other => other,
    }
}

/// One failed message in a SEND response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// The message id.
    pub message_id: String,
    /// A [`MessageProducerCode`] value (kept raw: peers may send codes we do not know).
    pub code: i32,
    /// Human-readable reason.
    pub remark: String,
}

/// A SEND response body: the failures only.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageResponse {
    /// One entry per message that was not stored.
    pub failures: Vec<SendResult>,
}

impl SendMessageResponse {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        self.failures
            .iter()
            .map(|f| str16_len(&f.message_id) + 4 + str16_len(&f.remark))
            .sum()
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        for f in &self.failures {
            put_str16(dst, &f.message_id);
            dst.put_i32(f.code);
            put_str16(dst, &f.remark);
        }
    }

    /// Decodes a whole body.
    ///
    /// # Errors
    /// A malformed entry.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let mut failures = Vec::new();
        while !r.is_empty() {
            failures.push(SendResult {
                message_id: r.str16("messageId")?,
                code: r.i32("code")?,
                remark: r.str16("remark")?,
            });
        }
        Ok((Self { failures }, r.position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::{FLAG_DELAY, MessageHeader};

    fn msg(id: &str) -> Message {
        Message {
            header: MessageHeader {
                flag: FLAG_DELAY,
                created_time: 1,
                expire_or_schedule_time: 2,
                subject: "s".into(),
                message_id: id.into(),
                tags: vec![],
            },
            attrs: vec![("a".into(), "b".into())],
        }
    }

    #[test]
    fn batch_roundtrip() {
        let messages = vec![msg("1"), msg("2"), msg("3")];
        let mut buf = BytesMut::new();
        SendMessageRequest::encode_messages(&messages, &mut buf);
        let body = buf.freeze();
        let req = SendMessageRequest::decode(&body).unwrap();
        assert_eq!(req.messages.len(), 3);
        assert!(req.messages.iter().all(RawMessage::crc_matches));
        let ids: Vec<_> = req
            .messages
            .iter()
            .map(|m| m.header.message_id.as_str())
            .collect();
        assert_eq!(ids, ["1", "2", "3"]);
        let mut again = BytesMut::new();
        req.encode(&mut again);
        assert_eq!(again.freeze(), body);
    }

    #[test]
    fn truncated_batch_is_an_error_with_body_offset() {
        let messages = vec![msg("1"), msg("2")];
        let mut buf = BytesMut::new();
        SendMessageRequest::encode_messages(&messages, &mut buf);
        let body = buf.freeze();
        for cut in 1..body.len() {
            if cut == messages[0].record_len() {
                continue;
            }
            assert!(
                SendMessageRequest::decode(&body.slice(..cut)).is_err(),
                "cut {cut}"
            );
        }
        match SendMessageRequest::decode(&body.slice(..body.len() - 1)) {
            Err(ProtocolError::Truncated { offset, .. }) => {
                assert!(offset >= messages[0].record_len())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn response_roundtrip() {
        let resp = SendMessageResponse {
            failures: vec![SendResult {
                message_id: "x".into(),
                code: MessageProducerCode::StoreError.as_i32(),
                remark: "disk".into(),
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        assert_eq!(buf.len(), resp.encoded_len());
        assert_eq!(
            SendMessageResponse::decode(&buf).unwrap(),
            (resp, buf.len())
        );
        for cut in 1..buf.len() {
            assert!(SendMessageResponse::decode(&buf[..cut]).is_err());
        }
    }

    #[test]
    fn producer_codes_are_frozen() {
        for (code, value) in [
            (MessageProducerCode::Success, 0),
            (MessageProducerCode::BrokerBusy, 1),
            (MessageProducerCode::MessageDuplicate, 2),
            (MessageProducerCode::SubjectNotAssigned, 3),
            (MessageProducerCode::BrokerReadOnly, 4),
            (MessageProducerCode::Block, 5),
            (MessageProducerCode::StoreError, 6),
        ] {
            assert_eq!(code.as_i32(), value);
            assert_eq!(MessageProducerCode::from_i32(value), Some(code));
        }
    }
}
