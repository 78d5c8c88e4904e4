//! Action log record layout (QMQ action log, spec §11).
//!
//! ```text
//! i32 magic       0xC3B2A100
//! i8  attr        0 record, 1 end-of-segment filler (rest of segment is zeros)
//! i8  type        0 PULL, 1 RANGE_ACK, 2 FOREVER_OFFLINE
//! i32 payloadLen
//! payload:
//!   PULL            str16 subject, str16 group, str16 consumerId, i64 ts, i8 broadcast,
//!                   i64 firstPullSeq, i64 lastPullSeq, i64 firstMsgSeq, i64 lastMsgSeq
//!   RANGE_ACK       str16 subject, str16 group, str16 consumerId, i64 ts, i64 first, i64 last
//!   FOREVER_OFFLINE str16 subject, str16 group, str16 consumerId, i64 ts
//! ```
//! The format has no checksum; recovery accepts a record only if magic, attr, type and length are
//! valid and the payload decodes to exactly `payloadLen` bytes.

use crate::broker::store::codec::{PutBe, Reader};
use crate::broker::store::scan::Step;

/// Record magic.
pub(crate) const MAGIC: i32 = 0xC3B2_A100_u32 as i32;
const ATTR_RECORD: i8 = 0;
const ATTR_FILLER: i8 = 1;
const TYPE_PULL: i8 = 0;
const TYPE_RANGE_ACK: i8 = 1;
const TYPE_FOREVER_OFFLINE: i8 = 2;
/// magic + attr + type + payloadLen.
pub(crate) const HEADER_LEN: usize = 10;
/// magic + attr: the least room a filler needs.
pub(crate) const FILLER_LEN: usize = 5;

/// A consumer was handed messages: pull offsets `first_pull_seq..=last_pull_seq` map one to one
/// onto consume-log sequences `first_msg_seq..=last_msg_seq` (for broadcast both ranges are the
/// consume-log sequences).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullAction {
    /// Subject pulled.
    pub subject: String,
    /// Consumer group (the client id for broadcast).
    pub group: String,
    /// Consumer id.
    pub consumer_id: String,
    /// When it happened (epoch ms).
    pub timestamp: i64,
    /// Broadcast pull (no pull log).
    pub broadcast: bool,
    /// First pull offset handed out.
    pub first_pull_seq: i64,
    /// Last pull offset handed out.
    pub last_pull_seq: i64,
    /// Consume-log sequence of the first message.
    pub first_msg_seq: i64,
    /// Consume-log sequence of the last message.
    pub last_msg_seq: i64,
}

/// A consumer acknowledged pull offsets `first..=last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeAckAction {
    /// Subject.
    pub subject: String,
    /// Consumer group.
    pub group: String,
    /// Consumer id.
    pub consumer_id: String,
    /// When it happened (epoch ms).
    pub timestamp: i64,
    /// First acked pull offset.
    pub first: i64,
    /// Last acked pull offset.
    pub last: i64,
}

/// One record of the action log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Messages handed to a consumer.
    Pull(PullAction),
    /// A consumer's range ack.
    RangeAck(RangeAckAction),
    /// A consumer was declared gone for good (replayed as a no-op).
    ForeverOffline {
        /// Subject.
        subject: String,
        /// Consumer group.
        group: String,
        /// Consumer id.
        consumer_id: String,
        /// When it happened (epoch ms).
        timestamp: i64,
    },
}

impl Action {
    /// Subject, group and consumer id of the action.
    pub fn key(&self) -> (&str, &str, &str) {
        match self {
            Action::Pull(p) => (&p.subject, &p.group, &p.consumer_id),
            Action::RangeAck(a) => (&a.subject, &a.group, &a.consumer_id),
            Action::ForeverOffline {
                subject,
                group,
                consumer_id,
                ..
            } => (subject, group, consumer_id),
        }
    }

    /// Encodes the whole record (header + payload).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(96);
        let (subject, group, consumer) = self.key();
        payload.put_str16(subject);
        payload.put_str16(group);
        payload.put_str16(consumer);
        let kind = match self {
            Action::Pull(p) => {
                payload.put_i64(p.timestamp);
                payload.put_i8(i8::from(p.broadcast));
                payload.put_i64(p.first_pull_seq);
                payload.put_i64(p.last_pull_seq);
                payload.put_i64(p.first_msg_seq);
                payload.put_i64(p.last_msg_seq);
                TYPE_PULL
            }
            Action::RangeAck(a) => {
                payload.put_i64(a.timestamp);
                payload.put_i64(a.first);
                payload.put_i64(a.last);
                TYPE_RANGE_ACK
            }
            Action::ForeverOffline { timestamp, .. } => {
                payload.put_i64(*timestamp);
                TYPE_FOREVER_OFFLINE
            }
        };
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.put_i32(MAGIC);
        out.put_i8(ATTR_RECORD);
        out.put_i8(kind);
        out.put_i32(payload.len() as i32);
        out.extend_from_slice(&payload);
        out
    }
}

/// The end-of-segment filler.
pub(crate) fn filler() -> [u8; FILLER_LEN] {
    let mut out = [0u8; FILLER_LEN];
    out[..4].copy_from_slice(&MAGIC.to_be_bytes());
    out[4] = ATTR_FILLER as u8;
    out
}

/// Decodes the record at the start of `bytes` (which run to the end of the segment).
pub(crate) fn decode(bytes: &[u8]) -> Result<(Action, usize), Step> {
    if bytes.len() < FILLER_LEN {
        return Err(Step::EndOfSegment);
    }
    let mut r = Reader::new(bytes);
    match r.i32() {
        Some(0) => return Err(Step::End),
        Some(MAGIC) => {}
        _ => return Err(Step::Corrupt("bad magic")),
    }
    match r.i8() {
        Some(ATTR_RECORD) => {}
        Some(ATTR_FILLER) => return Err(Step::EndOfSegment),
        _ => return Err(Step::Corrupt("bad attr")),
    }
    let (Some(kind), Some(len)) = (r.i8(), r.i32()) else {
        return Err(Step::Corrupt("truncated header"));
    };
    let payload = usize::try_from(len)
        .ok()
        .and_then(|n| r.bytes(n))
        .ok_or(Step::Corrupt("bad payload length"))?;
    let action = decode_payload(kind, payload).ok_or(Step::Corrupt("bad payload"))?;
    Ok((action, HEADER_LEN + payload.len()))
}

fn decode_payload(kind: i8, payload: &[u8]) -> Option<Action> {
    let mut r = Reader::new(payload);
    let subject = r.str16()?.to_owned();
    let group = r.str16()?.to_owned();
    let consumer_id = r.str16()?.to_owned();
    let timestamp = r.i64()?;
    let action = match kind {
        TYPE_PULL => Action::Pull(PullAction {
            subject,
            group,
            consumer_id,
            timestamp,
            broadcast: r.i8()? != 0,
            first_pull_seq: r.i64()?,
            last_pull_seq: r.i64()?,
            first_msg_seq: r.i64()?,
            last_msg_seq: r.i64()?,
        }),
        TYPE_RANGE_ACK => Action::RangeAck(RangeAckAction {
            subject,
            group,
            consumer_id,
            timestamp,
            first: r.i64()?,
            last: r.i64()?,
        }),
        TYPE_FOREVER_OFFLINE => Action::ForeverOffline {
            subject,
            group,
            consumer_id,
            timestamp,
        },
        _ => return None,
    };
    (r.position() == payload.len()).then_some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Action> {
        vec![
            Action::Pull(PullAction {
                subject: "s".into(),
                group: "g".into(),
                consumer_id: "c@@1".into(),
                timestamp: 7,
                broadcast: true,
                first_pull_seq: 0,
                last_pull_seq: 9,
                first_msg_seq: 100,
                last_msg_seq: 109,
            }),
            Action::RangeAck(RangeAckAction {
                subject: "s".into(),
                group: "g".into(),
                consumer_id: "c".into(),
                timestamp: 8,
                first: 0,
                last: 4,
            }),
            Action::ForeverOffline {
                subject: "s".into(),
                group: "g".into(),
                consumer_id: "c".into(),
                timestamp: 9,
            },
        ]
    }

    #[test]
    fn roundtrip_and_every_truncation_is_rejected() {
        for action in samples() {
            let bytes = action.encode();
            assert_eq!(decode(&bytes), Ok((action.clone(), bytes.len())));
            for cut in FILLER_LEN..bytes.len() {
                assert!(
                    matches!(decode(&bytes[..cut]), Err(Step::Corrupt(_))),
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn range_ack_layout_is_qmq() {
        let bytes = samples()[1].encode();
        let expected: Vec<u8> = [
            &[0xC3, 0xB2, 0xA1, 0x00, 0, 1][..],
            &[0, 0, 0, 33],
            &[0, 1, b's', 0, 1, b'g', 0, 1, b'c'],
            &8i64.to_be_bytes(),
            &0i64.to_be_bytes(),
            &4i64.to_be_bytes(),
        ]
        .concat();
        assert_eq!(bytes, expected);
    }
}
