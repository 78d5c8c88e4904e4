//! ACK_REQUEST (12), spec §5.
//!
//! ```text
//! str16 subject | str16 group | str16 consumerId | i64 pullOffsetBegin | i64 pullOffsetLast
//! | i8 isBroadcast   (version ≥ 8 only)
//! ```
//! Response: SUCCESS or BROKER_ERROR, empty body. `pullOffsetBegin < 0` is a heartbeat ack.

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::error::ProtocolError;
use crate::protocol::frame::VERSION_8;

/// An ack of the pull-offset range `[pull_offset_begin, pull_offset_last]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRequest {
    /// Subject as pulled (real or retry subject).
    pub subject: String,
    /// Consumer group (broadcast: the client id).
    pub group: String,
    /// Consumer (client) id.
    pub consumer_id: String,
    /// First acked pull offset; negative means "heartbeat only".
    pub pull_offset_begin: i64,
    /// Last acked pull offset.
    pub pull_offset_last: i64,
    /// Broadcast consumption (sent from version 8 on).
    pub is_broadcast: bool,
}

impl AckRequest {
    /// Whether this is a heartbeat ack carrying no range.
    pub fn is_heartbeat(&self) -> bool {
        self.pull_offset_begin < 0
    }

    /// Encoded size at `version`.
    pub fn encoded_len(&self, version: i16) -> usize {
        str16_len(&self.subject)
            + str16_len(&self.group)
            + str16_len(&self.consumer_id)
            + 16
            + usize::from(version >= VERSION_8)
    }

    /// Appends the body in the dialect of `version`.
    pub fn encode(&self, version: i16, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len(version));
        put_str16(dst, &self.subject);
        put_str16(dst, &self.group);
        put_str16(dst, &self.consumer_id);
        dst.put_i64(self.pull_offset_begin);
        dst.put_i64(self.pull_offset_last);
        if version >= VERSION_8 {
            dst.put_u8(u8::from(self.is_broadcast));
        }
    }

    /// Decodes a body sent at `version`.
    ///
    /// # Errors
    /// A malformed field.
    pub fn decode(src: &[u8], version: i16) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let subject = r.str16("subject")?;
        let group = r.str16("group")?;
        let consumer_id = r.str16("consumerId")?;
        let pull_offset_begin = r.i64("pullOffsetBegin")?;
        let pull_offset_last = r.i64("pullOffsetLast")?;
        let is_broadcast = if version >= VERSION_8 {
            r.bool("isBroadcast")?
        } else {
            false
        };
        Ok((
            Self {
                subject,
                group,
                consumer_id,
                pull_offset_begin,
                pull_offset_last,
                is_broadcast,
            },
            r.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_v7_and_v9() {
        let ack = AckRequest {
            subject: "s".into(),
            group: "g".into(),
            consumer_id: "c".into(),
            pull_offset_begin: 1,
            pull_offset_last: 5,
            is_broadcast: true,
        };
        for version in [7, 9] {
            let mut buf = BytesMut::new();
            ack.encode(version, &mut buf);
            assert_eq!(buf.len(), ack.encoded_len(version));
            let (decoded, used) = AckRequest::decode(&buf, version).unwrap();
            assert_eq!(used, buf.len());
            assert_eq!(decoded.is_broadcast, version >= 8);
            for cut in 0..buf.len() {
                assert!(AckRequest::decode(&buf[..cut], version).is_err());
            }
        }
    }
}
