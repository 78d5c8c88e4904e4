//! CONSUME_MANAGE (25), spec §2.4: reset a consumer group's position.
//!
//! ```text
//! str16 subject | str16 group | i32 consumeFromWhere (1 LATEST, 2 EARLIEST)
//! ```

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::error::ProtocolError;

/// Where a reset group continues from. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ConsumeFromWhere {
    /// The newest message.
    Latest = 1,
    /// The oldest retained message.
    Earliest = 2,
}

/// The request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeManageRequest {
    /// Subject.
    pub subject: String,
    /// Consumer group.
    pub group: String,
    /// Where to continue.
    pub consume_from_where: ConsumeFromWhere,
}

impl ConsumeManageRequest {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        str16_len(&self.subject) + str16_len(&self.group) + 4
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        put_str16(dst, &self.subject);
        put_str16(dst, &self.group);
        dst.put_i32(self.consume_from_where as i32);
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed field or an unknown position.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let subject = r.str16("subject")?;
        let group = r.str16("group")?;
        let consume_from_where = match r.i32("consumeFromWhere")? {
            1 => ConsumeFromWhere::Latest,
            2 => ConsumeFromWhere::Earliest,
            other => {
                return Err(ProtocolError::UnknownValue {
                    field: "consumeFromWhere",
                    value: i64::from(other),
                });
            }
        };
        Ok((
            Self {
                subject,
                group,
                consume_from_where,
            },
            r.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let req = ConsumeManageRequest {
            subject: "s".into(),
            group: "g".into(),
            consume_from_where: ConsumeFromWhere::Earliest,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf);
        assert_eq!(
            ConsumeManageRequest::decode(&buf).unwrap(),
            (req, buf.len())
        );
        for cut in 0..buf.len() {
            assert!(ConsumeManageRequest::decode(&buf[..cut]).is_err());
        }
    }
}
