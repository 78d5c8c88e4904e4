//! One subscription's machinery, shared by the pull and the listener API: route discovery and
//! the pull entries it starts.
//!
//! Discovery asks meta for the CONSUMER route of the real subject and of its retry subject
//! (not for broadcast) and starts one entry — pull loop, ack sender, send-back worker — per
//! (broker group, pulled subject) not yet served. It asks again every few seconds (the route
//! cache makes that cheap), every second while no group serves the subject.
//!
//! Stopping is two-phase: [`Subscriber::stop_pulling`] ends the pull loops at once (buffered
//! messages stay unacked); [`Subscriber::finish`] then lets ack senders flush what was
//! completed, stops send-backs, and waits for every task.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ConsumerShared;
use super::ack_sender::run_ack;
use super::delivery::Pulled;
use super::entry::{Entry, run_pull, run_send_back, sleep_or_stop};
use crate::protocol::names::retry_subject;
use crate::protocol::{ClientType, PullFilter};

/// How often routes are re-read once known.
const ROUTE_POLL: Duration = Duration::from_secs(5);
/// How often routes are re-read while no broker group serves the subject.
const ROUTE_RETRY: Duration = Duration::from_secs(1);
/// Longest wait for the final ack flush on stop.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// What one subscription consumes, fixed at subscribe time.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) real_subject: String,
    /// The group as the user gave it.
    pub(crate) user_group: String,
    /// The group on the wire: the client id for broadcast.
    pub(crate) group: String,
    pub(crate) consumer_id: String,
    pub(crate) broadcast: bool,
    pub(crate) at_most_once: bool,
    pub(crate) max_retry: u32,
    pub(crate) pull_filters: Vec<PullFilter>,
}

/// Discovery plus entries of one subscription.
pub(crate) struct Subscriber {
    shared: Arc<ConsumerShared>,
    pub(crate) spec: Arc<Spec>,
    sink: mpsc::Sender<Pulled>,
    started: Mutex<HashSet<(String, String)>>,
    pull_stop: CancellationToken,
    ack_stop: CancellationToken,
    tasks: TaskTracker,
}

impl Subscriber {
    /// Starts discovery; messages flow into `sink`.
    pub(crate) fn start(
        shared: Arc<ConsumerShared>,
        spec: Spec,
        sink: mpsc::Sender<Pulled>,
    ) -> Arc<Self> {
        // Closing the owning client stops every subscription.
        let this = Arc::new(Self {
            pull_stop: shared.client_closed.child_token(),
            ack_stop: shared.client_closed.child_token(),
            shared,
            spec: Arc::new(spec),
            sink,
            started: Mutex::new(HashSet::new()),
            tasks: TaskTracker::new(),
        });
        let task = this.clone().discover();
        this.tasks.spawn_on(task, &this.shared.handle);
        this
    }

    /// Whether pulling was stopped.
    pub(crate) fn is_stopped(&self) -> bool {
        self.pull_stop.is_cancelled()
    }

    /// The token cancelled by [`Subscriber::stop_pulling`].
    pub(crate) fn pull_stop(&self) -> &CancellationToken {
        &self.pull_stop
    }

    /// Phase 1: no more pulls. Never blocks.
    pub(crate) fn stop_pulling(&self) {
        self.pull_stop.cancel();
    }

    /// Phase 2: flush acks, stop send-backs, wait for every task (at most ~`FINAL_FLUSH`).
    pub(crate) async fn finish(&self) {
        self.pull_stop.cancel();
        self.ack_stop.cancel();
        self.tasks.close();
        if tokio::time::timeout(FINAL_FLUSH, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                subject = self.spec.real_subject,
                group = self.spec.group,
                "consumer tasks did not finish in time"
            );
        }
    }

    /// Stops everything without waiting (for `Drop`).
    pub(crate) fn abort(&self) {
        self.pull_stop.cancel();
        self.ack_stop.cancel();
        self.tasks.close();
    }

    fn pulled_subjects(&self) -> Vec<String> {
        let mut subjects = vec![self.spec.real_subject.clone()];
        if !self.spec.broadcast {
            subjects.push(retry_subject(&self.spec.real_subject, &self.spec.group));
        }
        subjects
    }

    async fn discover(self: Arc<Self>) {
        loop {
            let mut all_served = true;
            for subject in self.pulled_subjects() {
                let route = tokio::select! {
                    _ = self.pull_stop.cancelled() => return,
                    r = self.shared.meta.route(ClientType::Consumer, &subject, &self.spec.group) => r,
                };
                match route {
                    Ok(route) if !route.broker_groups.is_empty() => {
                        for group in &route.broker_groups {
                            self.ensure_entry(&group.group_name, &subject);
                        }
                    }
                    Ok(_) => all_served = false,
                    Err(e) => {
                        all_served = false;
                        tracing::warn!(subject, group = self.spec.group, error = %e, "consumer route lookup failed");
                    }
                }
            }
            let pause = if all_served { ROUTE_POLL } else { ROUTE_RETRY };
            if sleep_or_stop(&self.pull_stop, pause).await {
                return;
            }
        }
    }

    fn ensure_entry(&self, broker_group: &str, pulled_subject: &str) {
        let key = (broker_group.to_owned(), pulled_subject.to_owned());
        if !self
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key)
        {
            return;
        }
        tracing::debug!(
            subject = pulled_subject,
            group = self.spec.group,
            broker = broker_group,
            "starting pull entry"
        );
        let (entry, jobs) = Entry::new(self.spec.clone(), broker_group, pulled_subject);
        let handle = &self.shared.handle;
        self.tasks.spawn_on(
            run_pull(
                entry.clone(),
                self.shared.clone(),
                self.sink.clone(),
                self.pull_stop.clone(),
            ),
            handle,
        );
        self.tasks.spawn_on(
            run_ack(entry.clone(), self.shared.clone(), self.ack_stop.clone()),
            handle,
        );
        self.tasks.spawn_on(
            run_send_back(entry, self.shared.clone(), jobs, self.ack_stop.clone()),
            handle,
        );
    }
}
