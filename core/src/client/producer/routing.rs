//! Broker-group choice for the producer (spec §12): a random usable group first, then
//! round-robin per route key; a circuit breaker per group; groups that answered READ_ONLY or
//! REJECT are skipped until meta sends a newer route.
//!
//! Invariants: the lock is never held across an `.await`; a group is "marked" against one
//! route version (`Route::fetched_at`), so any refresh of the route clears the mark.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::batch::RouteKey;
use crate::client::breaker::{BreakerConfig, CircuitBreaker};
use crate::client::meta_client::Route;
use crate::protocol::BrokerGroupInfo;

struct GroupHealth {
    breaker: CircuitBreaker,
    /// The route version on which the group was marked unavailable.
    marked_on: Option<tokio::time::Instant>,
}

#[derive(Default)]
struct State {
    groups: HashMap<String, GroupHealth>,
    cursors: HashMap<RouteKey, usize>,
}

/// Health of broker groups and the round-robin position of each route key.
pub(crate) struct Routing {
    breaker: BreakerConfig,
    state: Mutex<State>,
}

impl Routing {
    pub(crate) fn new(breaker: BreakerConfig) -> Self {
        Self {
            breaker,
            state: Mutex::new(State::default()),
        }
    }

    /// The group to send the next batch of `key` to, or `None` if no group of `route` is
    /// usable now.
    pub(crate) fn pick(&self, key: &RouteKey, route: &Route) -> Option<BrokerGroupInfo> {
        let now = Instant::now();
        let mut state = self.lock();
        let State { groups, cursors } = &mut *state;
        let usable: Vec<&BrokerGroupInfo> = route
            .broker_groups
            .iter()
            .filter(|g| match groups.get_mut(&g.group_name) {
                None => true,
                Some(h) => h.marked_on != Some(route.fetched_at) && h.breaker.allow(now),
            })
            .collect();
        if usable.is_empty() {
            return None;
        }
        let cursor = cursors
            .entry(key.clone())
            .or_insert_with(|| fastrand::usize(..));
        let group = usable[*cursor % usable.len()].clone();
        *cursor = cursor.wrapping_add(1);
        Some(group)
    }

    /// A request to `group` got a response (whatever its per-message codes).
    pub(crate) fn record_success(&self, group: &str) {
        if let Some(h) = self.lock().groups.get_mut(group) {
            h.breaker.record_success(Instant::now());
        }
    }

    /// A request to `group` failed (transport error, timeout, error response).
    pub(crate) fn record_failure(&self, group: &str) {
        self.health(group, |h| h.breaker.record_failure(Instant::now()));
    }

    /// `group` answered READ_ONLY or REJECT: skip it until the route is refreshed.
    pub(crate) fn mark_unavailable(&self, group: &str, route: &Route) {
        self.health(group, |h| h.marked_on = Some(route.fetched_at));
    }

    fn health(&self, group: &str, f: impl FnOnce(&mut GroupHealth)) {
        let mut state = self.lock();
        let h = state
            .groups
            .entry(group.to_owned())
            .or_insert_with(|| GroupHealth {
                breaker: CircuitBreaker::new(self.breaker),
                marked_on: None,
            });
        f(h);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics under this lock; recover from poison rather than propagate it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{BrokerState, ClientType};
    use std::collections::HashSet;
    use std::time::Duration;

    fn route(names: &[&str]) -> Route {
        Route {
            client_type: ClientType::Producer,
            subject: "s".into(),
            broker_groups: names
                .iter()
                .map(|n| BrokerGroupInfo {
                    group_name: (*n).into(),
                    master: "127.0.0.1:1".into(),
                    update_time: 0,
                    state: BrokerState::Rw,
                })
                .collect(),
            fetched_at: tokio::time::Instant::now(),
        }
    }

    fn key() -> RouteKey {
        RouteKey {
            client_type: ClientType::Producer,
            subject: "s".into(),
        }
    }

    #[test]
    fn round_robin_over_usable_groups() {
        let r = Routing::new(BreakerConfig::default());
        let route = route(&["a", "b", "c"]);
        let picks: Vec<String> = (0..6)
            .map(|_| r.pick(&key(), &route).unwrap().group_name)
            .collect();
        assert_eq!(picks[..3].iter().collect::<HashSet<_>>().len(), 3);
        assert_eq!(picks[..3], picks[3..]);
    }

    #[test]
    fn marked_groups_are_skipped_until_the_route_is_refreshed() {
        let r = Routing::new(BreakerConfig::default());
        let old = route(&["a", "b"]);
        r.mark_unavailable("a", &old);
        for _ in 0..4 {
            assert_eq!(r.pick(&key(), &old).unwrap().group_name, "b");
        }
        r.mark_unavailable("b", &old);
        assert!(r.pick(&key(), &old).is_none());
        let mut fresh = route(&["a", "b"]);
        fresh.fetched_at = old.fetched_at + Duration::from_millis(1);
        assert!(r.pick(&key(), &fresh).is_some());
    }

    #[test]
    fn an_open_breaker_excludes_its_group() {
        let r = Routing::new(BreakerConfig {
            failure_threshold: 2,
            ..BreakerConfig::default()
        });
        let route = route(&["a", "b"]);
        r.record_failure("a");
        r.record_success("a");
        r.record_failure("a");
        assert!(r.pick(&key(), &route).is_some());
        r.record_failure("a");
        for _ in 0..4 {
            assert_eq!(r.pick(&key(), &route).unwrap().group_name, "b");
        }
    }
}
