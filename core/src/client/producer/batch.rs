//! `Batcher`: groups queued messages by route key — (client type, subject), as QMQ does — and
//! hands out batches of at most `batch_size` in round-robin order over the keys, so one busy
//! subject cannot starve another.
//!
//! Invariants: every pushed envelope comes out of exactly one batch, in push order per key;
//! a batch never mixes keys.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::completion::Completer;
use crate::protocol::ClientType;

/// Where a batch goes: the route of (client type, subject).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RouteKey {
    pub(crate) client_type: ClientType,
    pub(crate) subject: String,
}

/// One accepted message on its way to a broker.
pub(crate) struct Envelope {
    pub(crate) key: RouteKey,
    pub(crate) message_id: String,
    /// The SEND record, CRC included.
    pub(crate) record: Bytes,
    pub(crate) completer: Completer,
}

/// Per-key FIFOs with a round-robin order of non-empty keys.
#[derive(Default)]
pub(crate) struct Batcher {
    queues: HashMap<RouteKey, VecDeque<Envelope>>,
    /// Keys with queued envelopes, each exactly once.
    order: VecDeque<RouteKey>,
    len: usize,
}

impl Batcher {
    /// Queues an envelope behind the others of its key.
    pub(crate) fn push(&mut self, env: Envelope) {
        let queue = self.queues.entry(env.key.clone()).or_default();
        if queue.is_empty() {
            self.order.push_back(env.key.clone());
        }
        queue.push_back(env);
        self.len += 1;
    }

    /// Envelopes queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next batch: up to `max` envelopes of the key whose turn it is.
    pub(crate) fn next_batch(&mut self, max: usize) -> Option<(RouteKey, Vec<Envelope>)> {
        let key = self.order.pop_front()?;
        let queue = self.queues.get_mut(&key)?;
        let take = queue.len().min(max.max(1));
        let batch: Vec<Envelope> = queue.drain(..take).collect();
        self.len -= batch.len();
        if queue.is_empty() {
            // Keep the map small when many subjects come and go.
            self.queues.remove(&key);
        } else {
            self.order.push_back(key.clone());
        }
        Some((key, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::producer::completion::Notify;
    use crate::client::producer::queue::Gate;
    use std::sync::Arc;

    fn env(gate: &Arc<Gate>, subject: &str, id: usize) -> Envelope {
        gate.try_admit().unwrap();
        Envelope {
            key: RouteKey {
                client_type: ClientType::Producer,
                subject: subject.into(),
            },
            message_id: id.to_string(),
            record: Bytes::new(),
            completer: Completer::new(Notify::Callback(Box::new(|_| {})), gate.clone()),
        }
    }

    #[test]
    fn batches_are_per_key_bounded_and_round_robin() {
        let gate = Arc::new(Gate::new(1000));
        let mut b = Batcher::default();
        for i in 0..70 {
            b.push(env(&gate, "a", i));
        }
        for i in 0..5 {
            b.push(env(&gate, "b", 100 + i));
        }
        assert_eq!(b.len(), 75);
        let sizes: Vec<(String, usize, String)> = std::iter::from_fn(|| b.next_batch(30))
            .map(|(k, v)| (k.subject, v.len(), v[0].message_id.clone()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                ("a".into(), 30, "0".into()),
                ("b".into(), 5, "100".into()),
                ("a".into(), 30, "30".into()),
                ("a".into(), 10, "60".into()),
            ]
        );
        assert!(b.is_empty());
        assert!(b.next_batch(30).is_none());
    }
}
