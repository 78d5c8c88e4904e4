//! The meta role's state: broker groups, subject routes, consumer groups and online clients.
//!
//! [`MetaState`] is plain data plus the rules that change it; it does no I/O and takes the time
//! as an argument. [`file`](mod@file) saves and loads it. Invariants:
//!
//! * a group's stored `state` is what its master last reported (or NRW after OFFLINE or a missed
//!   heartbeat); the state used for routing is [`BrokerGroup::effective_state`], which is NRW
//!   whenever the last heartbeat is older than the timeout, even before the maintenance task runs;
//! * routes only grow: a group stays in a subject's route while it is down, so its messages are
//!   consumed when it returns; dead groups are filtered from answers, not removed from routes;
//! * `generation` increases with every change; the saver compares it to what is on disk.

mod clients;
pub mod file;
mod routing;

use std::collections::{BTreeMap, BTreeSet};

use qmq_core::protocol::{BrokerRegisterRequest, BrokerRequestType, BrokerState};
use serde::{Deserialize, Serialize};

pub use clients::{ClientKey, ClientRecord};
pub use routing::RoutingParams;

/// Whether a broker group stores real-time or delay messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupKind {
    /// Real-time brokers (roles MASTER, SLAVE, STANDBY, BACKUP).
    Normal,
    /// Delay servers (roles DELAY, DELAY_MASTER, DELAY_SLAVE, DELAY_BACKUP).
    Delay,
}

/// A broker group's stored state; the persisted mirror of [`BrokerState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GroupState {
    /// Readable and writable.
    #[serde(rename = "RW")]
    Rw,
    /// Read only.
    R,
    /// Write only.
    W,
    /// Neither.
    #[serde(rename = "NRW")]
    Nrw,
}

impl From<BrokerState> for GroupState {
    fn from(state: BrokerState) -> Self {
        match state {
            BrokerState::Rw => Self::Rw,
            BrokerState::R => Self::R,
            BrokerState::W => Self::W,
            BrokerState::Nrw => Self::Nrw,
        }
    }
}

impl From<GroupState> for BrokerState {
    fn from(state: GroupState) -> Self {
        match state {
            GroupState::Rw => Self::Rw,
            GroupState::R => Self::R,
            GroupState::W => Self::W,
            GroupState::Nrw => Self::Nrw,
        }
    }
}

/// One broker group as meta knows it (its master only; slaves are not on the client wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerGroup {
    /// Group name, as the broker registered it.
    pub name: String,
    /// Real-time or delay.
    pub kind: GroupKind,
    /// `ip:port` of the master's client port.
    pub master_address: String,
    /// Last reported state (NRW after OFFLINE or a missed heartbeat).
    pub state: GroupState,
    /// When the master last registered or heartbeated, epoch ms.
    pub last_heartbeat_ms: i64,
    /// When kind, address or state last changed, epoch ms (sent to clients as `updateTime`).
    pub update_time_ms: i64,
}

impl BrokerGroup {
    /// Whether the master missed its heartbeats at `now_ms`.
    pub fn is_expired(&self, now_ms: i64, timeout_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_heartbeat_ms) > timeout_ms
    }

    /// The state used for routing: NRW when expired, the stored state otherwise.
    pub fn effective_state(&self, now_ms: i64, timeout_ms: i64) -> BrokerState {
        if self.is_expired(now_ms, timeout_ms) {
            BrokerState::Nrw
        } else {
            self.state.into()
        }
    }
}

/// How urgently a change must reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Durability {
    /// Nothing changed.
    Unchanged,
    /// Bookkeeping (heartbeat times, clients); the periodic save is enough.
    Lazy,
    /// Routes and broker-group membership or state: save before answering.
    Immediate,
}

/// Everything the meta role knows. See the module docs for the invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaState {
    pub(crate) groups: BTreeMap<String, BrokerGroup>,
    pub(crate) routes: BTreeMap<String, Vec<String>>,
    pub(crate) consumer_groups: BTreeMap<String, BTreeSet<String>>,
    pub(crate) clients: BTreeMap<ClientKey, ClientRecord>,
    pub(crate) generation: u64,
}

impl MetaState {
    /// The known broker groups by name.
    pub fn groups(&self) -> &BTreeMap<String, BrokerGroup> {
        &self.groups
    }

    /// The groups assigned to a real subject, in assignment order.
    pub fn route(&self, real_subject: &str) -> Option<&[String]> {
        self.routes.get(real_subject).map(Vec::as_slice)
    }

    /// Consumer groups seen for a real subject.
    pub fn consumer_groups(&self, real_subject: &str) -> Option<&BTreeSet<String>> {
        self.consumer_groups.get(real_subject)
    }

    /// Clients currently recorded as online.
    pub fn clients(&self) -> impl Iterator<Item = &ClientRecord> {
        self.clients.values()
    }

    /// Change counter; bumped by every mutation that returned something other than `Unchanged`.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn note(&mut self, durability: Durability) -> Durability {
        if durability != Durability::Unchanged {
            self.generation += 1;
        }
        durability
    }

    /// Applies a BROKER_REGISTER. Only masters change state; slaves and backups are
    /// acknowledged by the caller without reaching here (spec §2.3).
    ///
    /// ONLINE and HEARTBEAT both upsert: a heartbeat from a group meta does not know (meta lost
    /// its state, or the broker started before meta) creates it, so no manual step is needed.
    pub fn register_broker(&mut self, req: &BrokerRegisterRequest, now_ms: i64) -> Durability {
        let kind = if req.broker_role.is_delay() {
            GroupKind::Delay
        } else {
            GroupKind::Normal
        };
        let durability = match req.request_type {
            BrokerRequestType::Online | BrokerRequestType::Heartbeat => {
                self.upsert_group(req, kind, now_ms)
            }
            BrokerRequestType::Offline => match self.groups.get_mut(&req.group_name) {
                Some(group) if group.state != GroupState::Nrw => {
                    group.state = GroupState::Nrw;
                    group.update_time_ms = now_ms;
                    Durability::Immediate
                }
                _ => Durability::Unchanged,
            },
        };
        self.note(durability)
    }

    fn upsert_group(
        &mut self,
        req: &BrokerRegisterRequest,
        kind: GroupKind,
        now_ms: i64,
    ) -> Durability {
        let state = GroupState::from(req.broker_state);
        match self.groups.get_mut(&req.group_name) {
            Some(group) => {
                let changed = group.kind != kind
                    || group.master_address != req.broker_address
                    || group.state != state;
                group.kind = kind;
                group.master_address.clone_from(&req.broker_address);
                group.state = state;
                group.last_heartbeat_ms = now_ms;
                if changed {
                    group.update_time_ms = now_ms;
                    Durability::Immediate
                } else {
                    Durability::Lazy
                }
            }
            None => {
                self.groups.insert(
                    req.group_name.clone(),
                    BrokerGroup {
                        name: req.group_name.clone(),
                        kind,
                        master_address: req.broker_address.clone(),
                        state,
                        last_heartbeat_ms: now_ms,
                        update_time_ms: now_ms,
                    },
                );
                Durability::Immediate
            }
        }
    }

    /// Marks groups whose heartbeat is older than `broker_timeout_ms` as NRW and forgets clients
    /// not seen for `client_liveness_ms`.
    pub fn expire(
        &mut self,
        now_ms: i64,
        broker_timeout_ms: i64,
        client_liveness_ms: i64,
    ) -> Durability {
        let mut durability = Durability::Unchanged;
        for group in self.groups.values_mut() {
            if group.state != GroupState::Nrw && group.is_expired(now_ms, broker_timeout_ms) {
                tracing::info!(broker = %group.name, "broker group missed heartbeats, now NRW");
                group.state = GroupState::Nrw;
                group.update_time_ms = now_ms;
                durability = Durability::Immediate;
            }
        }
        let before = self.clients.len();
        self.clients
            .retain(|_, c| now_ms.saturating_sub(c.last_seen_ms) <= client_liveness_ms);
        if self.clients.len() != before {
            durability = durability.max(Durability::Lazy);
        }
        self.note(durability)
    }

    /// After loading from disk: groups that were live when meta stopped get one heartbeat
    /// timeout to check in again, so a meta restart neither hides them from clients nor makes
    /// routes grow because every group looked dead.
    pub(crate) fn grant_restart_grace(&mut self, now_ms: i64) {
        for group in self.groups.values_mut() {
            if group.state != GroupState::Nrw {
                group.last_heartbeat_ms = group.last_heartbeat_ms.max(now_ms);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use qmq_core::protocol::BrokerRole;

    pub(crate) fn register(
        state: &mut MetaState,
        request_type: BrokerRequestType,
        group: &str,
        role: BrokerRole,
        broker_state: BrokerState,
        now_ms: i64,
    ) -> Durability {
        state.register_broker(
            &BrokerRegisterRequest {
                request_type,
                group_name: group.into(),
                broker_address: format!("10.0.0.1:{}", 20000 + group.len()),
                broker_role: role,
                broker_state,
            },
            now_ms,
        )
    }

    #[test]
    fn heartbeat_of_unknown_group_creates_it() {
        let mut s = MetaState::default();
        let d = register(
            &mut s,
            BrokerRequestType::Heartbeat,
            "g1",
            BrokerRole::DelayMaster,
            BrokerState::Rw,
            5,
        );
        assert_eq!(d, Durability::Immediate);
        assert_eq!(s.groups["g1"].kind, GroupKind::Delay);
        let d = register(
            &mut s,
            BrokerRequestType::Heartbeat,
            "g1",
            BrokerRole::DelayMaster,
            BrokerState::Rw,
            9,
        );
        assert_eq!(d, Durability::Lazy);
        assert_eq!(s.groups["g1"].last_heartbeat_ms, 9);
        assert_eq!(s.groups["g1"].update_time_ms, 5);
        assert_eq!(s.generation(), 2);
    }

    #[test]
    fn expire_marks_silent_groups_nrw_once() {
        let mut s = MetaState::default();
        register(
            &mut s,
            BrokerRequestType::Online,
            "g1",
            BrokerRole::Master,
            BrokerState::Rw,
            0,
        );
        assert_eq!(s.expire(30, 30, 1000), Durability::Unchanged);
        assert_eq!(s.expire(31, 30, 1000), Durability::Immediate);
        assert_eq!(s.groups["g1"].state, GroupState::Nrw);
        assert_eq!(s.expire(40, 30, 1000), Durability::Unchanged);
    }
}
