//! CLIENT_REGISTER (35), spec §2.2: producers and consumers ask meta for their broker groups.
//!
//! ```text
//! request:  i16 count | count × (str16 key, str16 value)          (a string map)
//! response: i64 timestamp | str16 subject | str16 consumerGroup | i8 onOfflineState
//!           | i8 clientTypeCode | i16 groupCount
//!           | groupCount × (str16 groupName, str16 master, i64 updateTime, i8 brokerState)
//! ```

use bytes::{BufMut, BytesMut};

use crate::protocol::codec::{Reader, put_str16, str16_len};
use crate::protocol::error::ProtocolError;

/// Who is registering. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i8)]
pub enum ClientType {
    /// A producer of real-time messages.
    Producer = 1,
    /// A consumer.
    Consumer = 2,
    /// Anything else (the default for missing or unknown codes).
    #[default]
    Other = 3,
    /// A producer of delay messages (routed to delay servers).
    DelayProducer = 4,
}

impl ClientType {
    /// Maps a wire value; unknown values are `Other`, as the Java meta server does.
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Producer,
            2 => Self::Consumer,
            4 => Self::DelayProducer,
            _ => Self::Other,
        }
    }

    /// The wire value.
    pub fn code(self) -> i8 {
        self as i8
    }
}

/// First request or heartbeat. Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i8)]
pub enum ClientRequestType {
    /// First request for a (type, subject, group).
    #[default]
    Online = 1,
    /// Later requests.
    Heartbeat = 2,
}

/// Broker group state (spec §2.2). Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i8)]
pub enum BrokerState {
    /// Readable and writable.
    Rw = 1,
    /// Read only.
    R = 2,
    /// Write only.
    W = 3,
    /// Neither.
    Nrw = 4,
}

impl BrokerState {
    /// Maps a wire value.
    ///
    /// # Errors
    /// [`ProtocolError::UnknownValue`] outside 1..=4.
    pub fn from_code(code: i64) -> Result<Self, ProtocolError> {
        Ok(match code {
            1 => Self::Rw,
            2 => Self::R,
            3 => Self::W,
            4 => Self::Nrw,
            _ => {
                return Err(ProtocolError::UnknownValue {
                    field: "brokerState",
                    value: code,
                });
            }
        })
    }

    /// The wire value.
    pub fn code(self) -> i8 {
        self as i8
    }

    /// Whether consumers may pull from a group in this state.
    pub fn can_read(self) -> bool {
        matches!(self, Self::Rw | Self::R)
    }

    /// Whether producers may send to a group in this state.
    pub fn can_write(self) -> bool {
        matches!(self, Self::Rw | Self::W)
    }
}

/// Whether the meta server considers the client online for this subject and group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(i8)]
pub enum OnOfflineState {
    /// Online.
    #[default]
    Online = 0,
    /// Offline.
    Offline = 1,
}

/// Map keys of the request.
pub mod keys {
    /// Subject (consumers also register `%RETRY%` subjects).
    pub const SUBJECT: &str = "subject";
    /// [`super::ClientType`] code as decimal.
    pub const CLIENT_TYPE_CODE: &str = "clientTypeCode";
    /// Application code.
    pub const APP_CODE: &str = "appCode";
    /// Client id.
    pub const CLIENT_ID: &str = "clientId";
    /// Consumer group, empty for producers.
    pub const CONSUMER_GROUP: &str = "consumerGroup";
    /// [`super::ClientRequestType`] code as decimal.
    pub const REQUEST_TYPE: &str = "requestType";
    /// Optional logical data centre.
    pub const CLIENT_LDC: &str = "clientLDC";
}

/// A CLIENT_REGISTER request: a string map kept in wire order so it re-encodes byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientRegisterRequest {
    /// The entries in wire order.
    pub entries: Vec<(String, String)>,
}

impl ClientRegisterRequest {
    /// A request with the standard keys.
    pub fn new(
        subject: &str,
        client_type: ClientType,
        app_code: &str,
        client_id: &str,
        consumer_group: &str,
        request_type: ClientRequestType,
    ) -> Self {
        let entries = [
            (keys::SUBJECT, subject.to_owned()),
            (keys::CLIENT_TYPE_CODE, client_type.code().to_string()),
            (keys::APP_CODE, app_code.to_owned()),
            (keys::CLIENT_ID, client_id.to_owned()),
            (keys::CONSUMER_GROUP, consumer_group.to_owned()),
            (keys::REQUEST_TYPE, (request_type as i8).to_string()),
        ];
        Self {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        }
    }

    /// Looks a key up.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The subject, `""` when missing.
    pub fn subject(&self) -> &str {
        self.get(keys::SUBJECT).unwrap_or("")
    }

    /// The consumer group, `""` when missing.
    pub fn consumer_group(&self) -> &str {
        self.get(keys::CONSUMER_GROUP).unwrap_or("")
    }

    /// The client id, `""` when missing.
    pub fn client_id(&self) -> &str {
        self.get(keys::CLIENT_ID).unwrap_or("")
    }

    /// The app code, `""` when missing.
    pub fn app_code(&self) -> &str {
        self.get(keys::APP_CODE).unwrap_or("")
    }

    /// The client type (`Other` when missing or unknown).
    pub fn client_type(&self) -> ClientType {
        self.get(keys::CLIENT_TYPE_CODE)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(ClientType::from_code)
            .unwrap_or_default()
    }

    /// The request type (`Online` when missing or unknown).
    pub fn request_type(&self) -> ClientRequestType {
        match self.get(keys::REQUEST_TYPE).map(str::trim) {
            Some("2") => ClientRequestType::Heartbeat,
            _ => ClientRequestType::Online,
        }
    }

    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        2 + self
            .entries
            .iter()
            .map(|(k, v)| str16_len(k) + str16_len(v))
            .sum::<usize>()
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_i16(self.entries.len().min(i16::MAX as usize) as i16);
        for (k, v) in self.entries.iter().take(i16::MAX as usize) {
            put_str16(dst, k);
            put_str16(dst, v);
        }
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed entry or a negative count.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let count = r.i16("mapSize")?;
        if count < 0 {
            return Err(ProtocolError::NegativeLength {
                field: "mapSize",
                offset: 0,
                length: i64::from(count),
            });
        }
        // The count is untrusted: reserve no more than the body can hold (two empty str16s).
        let mut entries = Vec::with_capacity(r.capacity_for(count as usize, 4));
        for _ in 0..count {
            entries.push((r.str16("key")?, r.str16("value")?));
        }
        Ok((Self { entries }, r.position()))
    }
}

/// One broker group in a meta response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerGroupInfo {
    /// Group name.
    pub group_name: String,
    /// Master address `ip:port`.
    pub master: String,
    /// Last update, epoch ms.
    pub update_time: i64,
    /// State.
    pub state: BrokerState,
}

/// The meta server's answer to CLIENT_REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaInfoResponse {
    /// Last update of the offline-state table; −2 on error.
    pub timestamp: i64,
    /// Echo of the request subject.
    pub subject: String,
    /// Echo of the request group.
    pub consumer_group: String,
    /// Online state of this client for (subject, group).
    pub on_offline_state: OnOfflineState,
    /// Echo of the client type.
    pub client_type: ClientType,
    /// The broker groups serving the subject.
    pub broker_groups: Vec<BrokerGroupInfo>,
}

impl MetaInfoResponse {
    /// Encoded size.
    pub fn encoded_len(&self) -> usize {
        8 + str16_len(&self.subject)
            + str16_len(&self.consumer_group)
            + 1
            + 1
            + 2
            + self
                .broker_groups
                .iter()
                .map(|g| str16_len(&g.group_name) + str16_len(&g.master) + 8 + 1)
                .sum::<usize>()
    }

    /// Appends the body.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.encoded_len());
        dst.put_i64(self.timestamp);
        put_str16(dst, &self.subject);
        put_str16(dst, &self.consumer_group);
        dst.put_i8(self.on_offline_state as i8);
        dst.put_i8(self.client_type.code());
        dst.put_i16(self.broker_groups.len().min(i16::MAX as usize) as i16);
        for g in self.broker_groups.iter().take(i16::MAX as usize) {
            put_str16(dst, &g.group_name);
            put_str16(dst, &g.master);
            dst.put_i64(g.update_time);
            dst.put_i8(g.state.code());
        }
    }

    /// Decodes a body.
    ///
    /// # Errors
    /// A malformed field, an unknown broker state, or a negative count.
    pub fn decode(src: &[u8]) -> Result<(Self, usize), ProtocolError> {
        let mut r = Reader::new(src);
        let timestamp = r.i64("timestamp")?;
        let subject = r.str16("subject")?;
        let consumer_group = r.str16("consumerGroup")?;
        let on_offline_state = match r.i8("onOfflineState")? {
            1 => OnOfflineState::Offline,
            _ => OnOfflineState::Online,
        };
        let client_type = ClientType::from_code(i64::from(r.i8("clientTypeCode")?));
        let at = r.position();
        let count = r.i16("brokerGroupCount")?;
        if count < 0 {
            return Err(ProtocolError::NegativeLength {
                field: "brokerGroupCount",
                offset: at,
                length: i64::from(count),
            });
        }
        // The count is untrusted: reserve no more than the body can hold (two empty str16s,
        // i64 updateTime, i8 brokerState).
        let mut broker_groups = Vec::with_capacity(r.capacity_for(count as usize, 2 + 2 + 8 + 1));
        for _ in 0..count {
            broker_groups.push(BrokerGroupInfo {
                group_name: r.str16("groupName")?,
                master: r.str16("master")?,
                update_time: r.i64("updateTime")?,
                state: BrokerState::from_code(i64::from(r.i8("brokerState")?))?,
            });
        }
        Ok((
            Self {
                timestamp,
                subject,
                consumer_group,
                on_offline_state,
                client_type,
                broker_groups,
            },
            r.position(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_roundtrip_and_accessors() {
        let req = ClientRegisterRequest::new(
            "s",
            ClientType::DelayProducer,
            "app",
            "host@@1",
            "",
            ClientRequestType::Heartbeat,
        );
        let mut buf = BytesMut::new();
        req.encode(&mut buf);
        assert_eq!(buf.len(), req.encoded_len());
        let (decoded, used) = ClientRegisterRequest::decode(&buf).unwrap();
        assert_eq!((decoded.clone(), used), (req, buf.len()));
        assert_eq!(decoded.client_type(), ClientType::DelayProducer);
        assert_eq!(decoded.request_type(), ClientRequestType::Heartbeat);
        assert_eq!(decoded.subject(), "s");
        for cut in 0..buf.len() {
            assert!(ClientRegisterRequest::decode(&buf[..cut]).is_err());
        }
    }

    #[test]
    fn response_roundtrip_and_unknown_state() {
        let resp = MetaInfoResponse {
            timestamp: 5,
            subject: "s".into(),
            consumer_group: "g".into(),
            on_offline_state: OnOfflineState::Offline,
            client_type: ClientType::Consumer,
            broker_groups: vec![BrokerGroupInfo {
                group_name: "b".into(),
                master: "127.0.0.1:1".into(),
                update_time: 9,
                state: BrokerState::R,
            }],
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf);
        assert_eq!(buf.len(), resp.encoded_len());
        assert_eq!(MetaInfoResponse::decode(&buf).unwrap(), (resp, buf.len()));
        for cut in 0..buf.len() {
            assert!(MetaInfoResponse::decode(&buf[..cut]).is_err());
        }
        let last = buf.len() - 1;
        buf[last] = 9;
        assert!(matches!(
            MetaInfoResponse::decode(&buf),
            Err(ProtocolError::UnknownValue {
                field: "brokerState",
                value: 9
            })
        ));
    }

    #[test]
    fn huge_counts_in_tiny_bodies_reserve_by_remaining_bytes() {
        // i16::MAX entries announced, none present: must fail fast without reserving 1.5 MB.
        let err = ClientRegisterRequest::decode(&[0x7f, 0xff]).unwrap_err();
        assert!(matches!(err, ProtocolError::Truncated { field: "key", .. }));
        let mut body = BytesMut::new();
        body.put_i64(0);
        put_str16(&mut body, "s");
        put_str16(&mut body, "g");
        body.put_i8(0);
        body.put_i8(2);
        body.put_i16(i16::MAX);
        let err = MetaInfoResponse::decode(&body).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::Truncated {
                field: "groupName",
                ..
            }
        ));
        let r = Reader::new(&[0u8; 10]);
        assert_eq!(r.capacity_for(i16::MAX as usize, 4), 2);
        assert_eq!(r.capacity_for(1, 4), 1);
        assert_eq!(r.capacity_for(5, 0), 5);
    }

    #[test]
    fn codes_are_frozen() {
        assert_eq!(
            [
                ClientType::Producer,
                ClientType::Consumer,
                ClientType::Other,
                ClientType::DelayProducer
            ]
            .map(ClientType::code),
            [1, 2, 3, 4]
        );
        assert_eq!(
            [
                BrokerState::Rw,
                BrokerState::R,
                BrokerState::W,
                BrokerState::Nrw
            ]
            .map(BrokerState::code),
            [1, 2, 3, 4]
        );
        assert_eq!(ClientType::from_code(77), ClientType::Other);
    }
}
