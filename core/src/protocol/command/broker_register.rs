//! BROKER_REGISTER (30), spec §2.3: brokers and delay servers announce themselves to meta.
//!
//! ```text
//! i32 requestType | str16 groupName | str16 brokerAddress | i32 brokerRole | i32 brokerState
//! ```
//! Frames are raw Java headers: version 8, requestCode −1. Response: SUCCESS, empty body.

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::command::client_register::BrokerState;
use crate::protocol::error::ProtocolError;

/// Online, heartbeat or offline. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum BrokerRequestType {
    /// The broker became writable.
    Online = 0,
    /// Periodic liveness (every 10 s).
    Heartbeat = 1,
    /// Shutting down.
    Offline = 2,
}

impl BrokerRequestType {
    /// Maps a wire value.
    ///
    /// # Errors
    /// [`ProtocolError::UnknownValue`] for other values.
    pub fn from_code(code: i32) -> Result<Self, ProtocolError> {
        Ok(match code {
            0 => Self::Online,
            1 => Self::Heartbeat,
            2 => Self::Offline,
            _ => {
                return Err(ProtocolError::UnknownValue {
                    field: "brokerRequestType",
                    value: i64::from(code),
                });
            }
        })
    }
}

/// The role of a server in its group. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum BrokerRole {
    /// Real-time master.
    Master = 0,
    /// Real-time slave.
    Slave = 1,
    /// Standby.
    Standby = 2,
    /// Delay server (legacy role).
    Delay = 3,
    /// Backup.
    Backup = 4,
    /// Delay master.
    DelayMaster = 5,
    /// Delay slave.
    DelaySlave = 6,
    /// Delay backup.
    DelayBackup = 7,
}

impl BrokerRole {
    /// Maps a wire value.
    ///
    /// # Errors
    /// [`ProtocolError::UnknownValue`] for other values.
    pub fn from_code(code: i32) -> Result<Self, ProtocolError> {
        Ok(match code {
            0 => Self::Master,
            1 => Self::Slave,
            2 => Self::Standby,
            3 => Self::Delay,
            4 => Self::Backup,
            5 => Self::DelayMaster,
            6 => Self::DelaySlave,
            7 => Self::DelayBackup,
            _ => {
                return Err(ProtocolError::UnknownValue {
                    field: "brokerRole",
                    value: i64::from(code),
                });
            }
        })
    }

    /// Whether the role belongs to a delay group (kind DELAY) rather than a real-time one.
    pub fn is_delay(self) -> bool {
        matches!(
            self,
            Self::Delay | Self::DelayMaster | Self::DelaySlave | Self::DelayBackup
        )
    }

    /// Whether the role is the master of its group.
    pub fn is_master(self) -> bool {
        matches!(self, Self::Master | Self::Delay | Self::DelayMaster)
    }
}

/// A broker registration or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegisterRequest {
    /// Online, heartbeat or offline.
    pub request_type: BrokerRequestType,
    /// The broker group.
    pub group_name: String,
    /// `ip:port` clients connect to.
    pub broker_address: String,
    /// The sender's role.
    pub broker_role: BrokerRole,
    /// The state the broker reports.
    pub broker_state: BrokerState,
}

impl BrokerRegisterRequest {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        4 + str16_len(&self.group_name) + str16_len(&self.broker_address) + 4 + 4
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_i32(self.request_type as i32);
        put_str16(dst, &self.group_name);
        put_str16(dst, &self.broker_address);
        dst.put_i32(self.broker_role as i32);
        dst.put_i32(i32::from(self.broker_state.code()));
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed field or an unknown enumerated value.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let request_type = BrokerRequestType::from_code(r.i32("requestType")?)?;
        let group_name = r.str16("groupName")?;
        let broker_address = r.str16("brokerAddress")?;
        let broker_role = BrokerRole::from_code(r.i32("brokerRole")?)?;
        let broker_state = BrokerState::from_code(i64::from(r.i32("brokerState")?))?;
        Ok((
            Self {
                request_type,
                group_name,
                broker_address,
                broker_role,
                broker_state,
            },
            r.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_truncation_and_unknown_role() {
        let req = BrokerRegisterRequest {
            request_type: BrokerRequestType::Offline,
            group_name: "g".into(),
            broker_address: "127.0.0.1:20881".into(),
            broker_role: BrokerRole::DelayMaster,
            broker_state: BrokerState::Nrw,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf);
        assert_eq!(buf.len(), req.encoded_len());
        assert_eq!(
            BrokerRegisterRequest::decode(&buf).unwrap(),
            (req, buf.len())
        );
        for cut in 0..buf.len() {
            assert!(BrokerRegisterRequest::decode(&buf[..cut]).is_err());
        }
        let at = buf.len() - 5;
        buf[at] = 42;
        assert!(BrokerRegisterRequest::decode(&buf).is_err());
        assert!(BrokerRole::DelayMaster.is_delay() && !BrokerRole::Master.is_delay());
    }
}
