//! BROKER_ACQUIRE_META (40), spec §2.3: a starting broker asks meta for its group and role.
//!
//! ```text
//! request:  str16 hostname | i32 servePort
//! response: str16 groupName | str16 master | i32 role
//! ```

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::command::broker_register::BrokerRole;
use crate::protocol::error::ProtocolError;

/// The request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAcquireMetaRequest {
    /// The broker's host name.
    pub hostname: String,
    /// The port it serves clients on.
    pub serve_port: i32,
}

impl BrokerAcquireMetaRequest {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        str16_len(&self.hostname) + 4
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        put_str16(dst, &self.hostname);
        dst.put_i32(self.serve_port);
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed field.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let hostname = r.str16("hostname")?;
        let serve_port = r.i32("servePort")?;
        Ok((
            Self {
                hostname,
                serve_port,
            },
            r.position(),
        ))
    }
}

/// The response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAcquireMetaResponse {
    /// The broker's group.
    pub group_name: String,
    /// `ip:syncPort` of the master (for slaves), `""` for masters.
    pub master: String,
    /// The role assigned.
    pub role: BrokerRole,
}

impl BrokerAcquireMetaResponse {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        str16_len(&self.group_name) + str16_len(&self.master) + 4
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        put_str16(dst, &self.group_name);
        put_str16(dst, &self.master);
        dst.put_i32(self.role as i32);
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed field or an unknown role.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let group_name = r.str16("groupName")?;
        let master = r.str16("master")?;
        let role = BrokerRole::from_code(r.i32("role")?)?;
        Ok((
            Self {
                group_name,
                master,
                role,
            },
            r.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrips_and_truncations() {
        let req = BrokerAcquireMetaRequest {
            hostname: "h".into(),
            serve_port: 20881,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf);
        assert_eq!(buf.len(), req.encoded_len());
        assert_eq!(
            BrokerAcquireMetaRequest::decode(&buf).unwrap(),
            (req, buf.len())
        );
        for cut in 0..buf.len() {
            assert!(BrokerAcquireMetaRequest::decode(&buf[..cut]).is_err());
        }
        let resp = BrokerAcquireMetaResponse {
            group_name: "g".into(),
            master: String::new(),
            role: BrokerRole::Master,
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        assert_eq!(buf.len(), resp.encoded_len());
        assert_eq!(
            BrokerAcquireMetaResponse::decode(&buf).unwrap(),
            (resp, buf.len())
        );
        for cut in 0..buf.len() {
            assert!(BrokerAcquireMetaResponse::decode(&buf[..cut]).is_err());
        }
    }
}
