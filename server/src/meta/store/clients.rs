//! Online clients and the consumer groups seen per subject.

use qmq_core::protocol::{ClientRegisterRequest, ClientType};
use serde::{Deserialize, Serialize};

use super::{Durability, MetaState};

/// Identifies one registration: a client registers once per (subject, group, type).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientKey {
    /// Client id (spec §8).
    pub client_id: String,
    /// Subject as registered (may be a `%RETRY%` subject).
    pub subject: String,
    /// Consumer group, empty for producers.
    pub consumer_group: String,
    /// Client type code.
    pub client_type: i8,
}

/// A client meta has heard from within the liveness window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// Client id (spec §8).
    pub client_id: String,
    /// Subject as registered (may be a `%RETRY%` subject).
    pub subject: String,
    /// The real subject behind it.
    pub real_subject: String,
    /// Consumer group, empty for producers.
    pub consumer_group: String,
    /// Client type code (1 producer, 2 consumer, 3 other, 4 delay producer).
    pub client_type: i8,
    /// Application code.
    pub app_code: String,
    /// First registration seen by this meta, epoch ms.
    pub online_since_ms: i64,
    /// Last registration or heartbeat, epoch ms.
    pub last_seen_ms: i64,
}

impl ClientRecord {
    /// The map key of this record.
    pub fn key(&self) -> ClientKey {
        ClientKey {
            client_id: self.client_id.clone(),
            subject: self.subject.clone(),
            consumer_group: self.consumer_group.clone(),
            client_type: self.client_type,
        }
    }
}

impl MetaState {
    /// Records a CLIENT_REGISTER. ONLINE and HEARTBEAT both (re)create the record, so clients
    /// reappear after a meta restart at their next heartbeat; consumers also add their group
    /// to the subject's consumer groups.
    pub fn record_client(
        &mut self,
        req: &ClientRegisterRequest,
        real_subject: &str,
        now_ms: i64,
    ) -> Durability {
        let client_type = req.client_type();
        let key = ClientKey {
            client_id: req.client_id().to_owned(),
            subject: req.subject().to_owned(),
            consumer_group: req.consumer_group().to_owned(),
            client_type: client_type.code(),
        };
        let mut durability = Durability::Lazy;
        match self.clients.get_mut(&key) {
            Some(record) => {
                record.last_seen_ms = now_ms;
                req.app_code().clone_into(&mut record.app_code);
            }
            None => {
                self.clients.insert(
                    key.clone(),
                    ClientRecord {
                        client_id: key.client_id,
                        subject: key.subject,
                        real_subject: real_subject.to_owned(),
                        consumer_group: key.consumer_group,
                        client_type: key.client_type,
                        app_code: req.app_code().to_owned(),
                        online_since_ms: now_ms,
                        last_seen_ms: now_ms,
                    },
                );
            }
        }
        let group = req.consumer_group();
        if client_type == ClientType::Consumer
            && !group.is_empty()
            && self
                .consumer_groups
                .entry(real_subject.to_owned())
                .or_default()
                .insert(group.to_owned())
        {
            durability = Durability::Immediate;
        }
        self.note(durability)
    }
}
