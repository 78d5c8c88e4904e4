//! One bench consumer: its own client and a listener subscription in the run's consumer
//! group; the handler records end-to-end latency from the message's send timestamp and acks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use qmq_core::client::Client;
use qmq_core::client::consumer::{ConsumeOptions, Handler, Subscription};
use qmq_core::protocol::Message;

use super::stats::{SENT_AT_KEY, Stats};
use crate::CLOSE_DEADLINE;

/// The consumer group of every bench run (each run has its own subject).
pub const GROUP: &str = "qmq-bench";

/// A running consumer.
pub struct BenchConsumer {
    client: Client,
    subscription: Subscription,
}

impl BenchConsumer {
    /// Subscribes `client` (its own: closing it is this consumer's job) to `subject` in
    /// [`GROUP`].
    ///
    /// # Errors
    /// The subscription cannot be created.
    pub fn start(
        client: Client,
        subject: &str,
        concurrency: usize,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let consumer = client.consumer().context("cannot create a consumer")?;
        let handler: Handler = Arc::new(move |m: &Message| {
            stats.on_receive(m.attr(SENT_AT_KEY).and_then(|v| v.parse().ok()));
            Ok(())
        });
        let options = ConsumeOptions {
            concurrency,
            ..ConsumeOptions::default()
        };
        let subscription = consumer
            .subscribe(subject, GROUP, options, handler)
            .context("cannot subscribe")?;
        Ok(Self {
            client,
            subscription,
        })
    }

    /// Stops the subscription (flushing its acks, bounded) and closes the client.
    pub async fn stop(self) {
        self.subscription.stop();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.subscription.stopped()).await;
        let _ = self.client.close_async(CLOSE_DEADLINE).await;
    }
}
