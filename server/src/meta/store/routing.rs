//! Subject → broker-group routing (spec §2.2).
//!
//! * Real-time subjects: the first CLIENT_REGISTER assigns up to `min_group_num` live RW NORMAL
//!   groups, least loaded first (load = subjects routed to the group, ties by name). Later calls
//!   return the same groups. The route grows — never shrinks — when it is shorter than
//!   `min_group_num` and more live RW groups exist, or when every group in it is dead (then one
//!   live group is added so the subject stays available).
//! * Delay producers: up to `min_group_num` live writable DELAY groups, not stored; the subject's
//!   hash picks the starting group so subjects spread evenly over the delay servers.
//! * Filtering of the answer: NRW (or expired) groups are removed for everyone, R groups for
//!   producers and delay producers, W groups for consumers.

use std::collections::BTreeMap;

use qmq_core::protocol::{BrokerGroupInfo, BrokerState, ClientType};

use super::{BrokerGroup, Durability, GroupKind, MetaState};

/// Time and limits that routing depends on.
#[derive(Debug, Clone, Copy)]
pub struct RoutingParams {
    /// Now, epoch ms.
    pub now_ms: i64,
    /// Heartbeat timeout in ms.
    pub broker_timeout_ms: i64,
    /// Groups per subject.
    pub min_group_num: usize,
}

/// Whether a client of this type can use a group in this state.
fn serves(client_type: ClientType, state: BrokerState) -> bool {
    match client_type {
        ClientType::Producer | ClientType::DelayProducer => state.can_write(),
        ClientType::Consumer => state.can_read(),
        ClientType::Other => state != BrokerState::Nrw,
    }
}

/// FNV-1a: a hash that is stable across builds and restarts, unlike `DefaultHasher`.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl MetaState {
    /// The groups a client of `client_type` should use for `real_subject`, assigning or
    /// extending the subject's route first if needed (see the module docs).
    pub fn route_for(
        &mut self,
        real_subject: &str,
        client_type: ClientType,
        params: RoutingParams,
    ) -> (Vec<BrokerGroupInfo>, Durability) {
        if client_type == ClientType::DelayProducer {
            return (
                self.delay_groups(real_subject, params),
                Durability::Unchanged,
            );
        }
        let durability = self.ensure_route(real_subject, params);
        let infos = self
            .routes
            .get(real_subject)
            .into_iter()
            .flatten()
            .filter_map(|name| self.groups.get(name))
            .filter_map(|group| info_if_serves(group, client_type, params))
            .collect();
        (infos, durability)
    }

    fn ensure_route(&mut self, real_subject: &str, params: RoutingParams) -> Durability {
        let current: &[String] = self.routes.get(real_subject).map_or(&[], Vec::as_slice);
        let any_alive = current.iter().any(|name| {
            self.groups.get(name).is_some_and(|g| {
                g.effective_state(params.now_ms, params.broker_timeout_ms) != BrokerState::Nrw
            })
        });
        let wanted = params.min_group_num.saturating_sub(current.len());
        let wanted = if any_alive || current.is_empty() {
            wanted
        } else {
            wanted.max(1)
        };
        if wanted == 0 {
            return Durability::Unchanged;
        }
        let picked = self.least_loaded_rw_normal(current, wanted, params);
        if picked.is_empty() {
            return Durability::Unchanged;
        }
        tracing::info!(subject = real_subject, groups = ?picked, "subject route assigned");
        self.routes
            .entry(real_subject.to_owned())
            .or_default()
            .extend(picked);
        self.note(Durability::Immediate)
    }

    /// Up to `wanted` live RW NORMAL groups not in `exclude`, fewest routed subjects first.
    fn least_loaded_rw_normal(
        &self,
        exclude: &[String],
        wanted: usize,
        params: RoutingParams,
    ) -> Vec<String> {
        let eligible: Vec<&str> = self
            .groups
            .values()
            .filter(|g| g.kind == GroupKind::Normal)
            .filter(|g| {
                g.effective_state(params.now_ms, params.broker_timeout_ms) == BrokerState::Rw
            })
            .filter(|g| !exclude.contains(&g.name))
            .map(|g| g.name.as_str())
            .collect();
        if eligible.is_empty() {
            // Common when a short route cannot grow: skip counting the load of every route.
            return Vec::new();
        }
        let mut load: BTreeMap<&str, usize> = eligible.iter().map(|&name| (name, 0)).collect();
        for name in self.routes.values().flatten() {
            if let Some(count) = load.get_mut(name.as_str()) {
                *count += 1;
            }
        }
        let mut candidates: Vec<(usize, &str)> = load
            .into_iter()
            .map(|(name, count)| (count, name))
            .collect();
        candidates.sort_unstable();
        candidates
            .into_iter()
            .take(wanted)
            .map(|(_, name)| name.to_owned())
            .collect()
    }

    fn delay_groups(&self, real_subject: &str, params: RoutingParams) -> Vec<BrokerGroupInfo> {
        let live: Vec<&BrokerGroup> = self
            .groups
            .values()
            .filter(|g| g.kind == GroupKind::Delay)
            .filter(|g| {
                g.effective_state(params.now_ms, params.broker_timeout_ms)
                    .can_write()
            })
            .collect();
        if live.is_empty() {
            return Vec::new();
        }
        // `live` is sorted by name (BTreeMap order); rotate by the subject's hash.
        let start = (stable_hash(real_subject) % live.len() as u64) as usize;
        live.iter()
            .cycle()
            .skip(start)
            .take(params.min_group_num.min(live.len()))
            .filter_map(|g| info_if_serves(g, ClientType::DelayProducer, params))
            .collect()
    }
}

fn info_if_serves(
    group: &BrokerGroup,
    client_type: ClientType,
    params: RoutingParams,
) -> Option<BrokerGroupInfo> {
    let state = group.effective_state(params.now_ms, params.broker_timeout_ms);
    serves(client_type, state).then(|| BrokerGroupInfo {
        group_name: group.name.clone(),
        master: group.master_address.clone(),
        update_time: group.update_time_ms,
        state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::store::tests::register;
    use qmq_core::protocol::{BrokerRequestType, BrokerRole};

    const TIMEOUT: i64 = 30_000;

    fn params(now_ms: i64) -> RoutingParams {
        RoutingParams {
            now_ms,
            broker_timeout_ms: TIMEOUT,
            min_group_num: 2,
        }
    }

    fn names(infos: &[BrokerGroupInfo]) -> Vec<&str> {
        infos.iter().map(|i| i.group_name.as_str()).collect()
    }

    fn master(s: &mut MetaState, group: &str, state: BrokerState, now: i64) {
        register(
            s,
            BrokerRequestType::Heartbeat,
            group,
            BrokerRole::Master,
            state,
            now,
        );
    }

    #[test]
    fn first_use_picks_least_loaded_groups_and_later_calls_are_stable() {
        let mut s = MetaState::default();
        for g in ["a", "b", "c"] {
            master(&mut s, g, BrokerState::Rw, 0);
        }
        let (r1, d) = s.route_for("s1", ClientType::Producer, params(1));
        assert_eq!((names(&r1), d), (vec!["a", "b"], Durability::Immediate));
        let (r2, _) = s.route_for("s2", ClientType::Producer, params(1));
        assert_eq!(names(&r2), vec!["c", "a"]);
        let (again, d) = s.route_for("s1", ClientType::Consumer, params(2));
        assert_eq!((names(&again), d), (vec!["a", "b"], Durability::Unchanged));
    }

    #[test]
    fn no_live_group_assigns_nothing_and_a_single_group_is_topped_up_later() {
        let mut s = MetaState::default();
        let (r, d) = s.route_for("s", ClientType::Producer, params(0));
        assert!(r.is_empty());
        assert_eq!(d, Durability::Unchanged);
        assert_eq!(s.route("s"), None);
        master(&mut s, "a", BrokerState::Rw, 0);
        assert_eq!(
            names(&s.route_for("s", ClientType::Producer, params(0)).0),
            ["a"]
        );
        master(&mut s, "b", BrokerState::Rw, 0);
        assert_eq!(
            names(&s.route_for("s", ClientType::Producer, params(0)).0),
            ["a", "b"]
        );
    }

    #[test]
    fn all_dead_route_is_extended_with_a_live_group() {
        let mut s = MetaState::default();
        master(&mut s, "a", BrokerState::Rw, 0);
        master(&mut s, "b", BrokerState::Rw, 0);
        s.route_for("s", ClientType::Producer, params(0));
        master(&mut s, "c", BrokerState::Rw, 40_000);
        let (r, d) = s.route_for("s", ClientType::Producer, params(40_000));
        assert_eq!((names(&r), d), (vec!["c"], Durability::Immediate));
        assert_eq!(s.route("s").unwrap(), ["a", "b", "c"]);
    }

    #[test]
    fn state_filters_per_client_type() {
        let mut s = MetaState::default();
        for (g, st) in [
            ("r", BrokerState::R),
            ("rw", BrokerState::Rw),
            ("w", BrokerState::W),
        ] {
            master(&mut s, g, BrokerState::Rw, 0);
            s.routes.entry("s".into()).or_default().push(g.into());
            master(&mut s, g, st, 0);
        }
        master(&mut s, "nrw", BrokerState::Nrw, 0);
        s.routes.entry("s".into()).or_default().push("nrw".into());
        let p = RoutingParams {
            min_group_num: 1,
            ..params(0)
        };
        assert_eq!(
            names(&s.route_for("s", ClientType::Producer, p).0),
            ["rw", "w"]
        );
        assert_eq!(
            names(&s.route_for("s", ClientType::Consumer, p).0),
            ["r", "rw"]
        );
        assert_eq!(
            names(&s.route_for("s", ClientType::Other, p).0),
            ["r", "rw", "w"]
        );
    }

    #[test]
    fn delay_producers_get_live_delay_groups_only() {
        let mut s = MetaState::default();
        master(&mut s, "n1", BrokerState::Rw, 0);
        for g in ["d1", "d2", "d3"] {
            register(
                &mut s,
                BrokerRequestType::Online,
                g,
                BrokerRole::DelayMaster,
                BrokerState::Rw,
                0,
            );
        }
        let (r, d) = s.route_for("s", ClientType::DelayProducer, params(0));
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|i| i.group_name.starts_with('d')));
        assert_eq!(d, Durability::Unchanged);
        assert_eq!(s.route("s"), None);
        assert!(
            s.route_for("s", ClientType::DelayProducer, params(TIMEOUT + 1))
                .0
                .is_empty()
        );
    }
}
