//! What a subscription asks for: [`ConsumeOptions`], the handler type and its error.

use std::fmt;
use std::sync::Arc;

use super::filter::ConsumerFilter;
use crate::client::config::ConfigError;
use crate::client::idempotence::IdempotenceStore;
use crate::protocol::message::MAX_TAGS;
use crate::protocol::{Message, PullFilter, TagType};

/// The most handlers a listener may run at once.
pub const MAX_CONCURRENCY: usize = 10_000;

/// A listener's message handler. `Ok` acks the message; `Err` sends it to the retry subject
/// (or, after the last try, to the dead-letter subject). A panic counts as `Err`.
///
/// It runs on a blocking thread of the client runtime, never on an async worker, so it may
/// block (database calls, host-language callbacks).
pub type Handler = Arc<dyn Fn(&Message) -> Result<(), HandlerError> + Send + Sync>;

/// Why a handler (or a pull-API user) failed a message; carried in logs only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct HandlerError {
    reason: String,
}

impl HandlerError {
    /// A failure with a human-readable reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl From<&str> for HandlerError {
    fn from(reason: &str) -> Self {
        Self::new(reason)
    }
}

impl From<String> for HandlerError {
    fn from(reason: String) -> Self {
        Self::new(reason)
    }
}

/// How one subscription consumes (both the pull and the listener API).
#[derive(Clone)]
pub struct ConsumeOptions {
    /// Server-side tag filter; empty = every message.
    pub tags: Vec<String>,
    /// How `tags` combine: [`TagType::Or`] (any) or [`TagType::And`] (all). Ignored without
    /// tags; [`TagType::NoTag`] with tags means `Or`.
    pub tag_type: TagType,
    /// Broadcast: every client gets every message (the group becomes the client id); failed
    /// messages are not retried.
    pub broadcast: bool,
    /// At-most-once: messages are acked on receipt, before processing; redeliveries
    /// (`qmq_times > 1`) are dropped and failures are not retried.
    pub at_most_once: bool,
    /// Deliveries before a failed message goes to the dead-letter subject, unless the message
    /// carries `qmq_maxRetryNum`. `None` = `ConsumerConfig::max_retry` (32).
    pub max_retry: Option<u32>,
    /// Drops messages this group already processed (key `subject%group%messageId`). The
    /// mark is its own database call, outside the handler's work; for an effect that must
    /// happen exactly once, leave this empty and build the handler with
    /// [`transactional_handler`](crate::client::idempotence::transactional_handler), which
    /// writes the key in the handler's database transaction.
    pub idempotence: Option<Arc<dyn IdempotenceStore>>,
    /// Hooks run before and after each message, in order (see [`ConsumerFilter`]).
    pub filters: Vec<Arc<dyn ConsumerFilter>>,
    /// Listener API only: how many handlers may run at once. Default 8.
    pub concurrency: usize,
}

impl Default for ConsumeOptions {
    fn default() -> Self {
        Self {
            tags: Vec::new(),
            tag_type: TagType::Or,
            broadcast: false,
            at_most_once: false,
            max_retry: None,
            idempotence: None,
            filters: Vec::new(),
            concurrency: 8,
        }
    }
}

impl fmt::Debug for ConsumeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumeOptions")
            .field("tags", &self.tags)
            .field("tag_type", &self.tag_type)
            .field("broadcast", &self.broadcast)
            .field("at_most_once", &self.at_most_once)
            .field("max_retry", &self.max_retry)
            .field("idempotence", &self.idempotence.is_some())
            .field("filters", &self.filters.len())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl ConsumeOptions {
    /// Checks the values.
    ///
    /// # Errors
    /// [`ConfigError`] naming `consume.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tags.len() > MAX_TAGS {
            return Err(ConfigError::invalid(
                "consume.tags",
                format!("{} tags, at most {MAX_TAGS}", self.tags.len()),
            ));
        }
        if self
            .tags
            .iter()
            .any(|t| t.is_empty() || t.len() > i16::MAX as usize)
        {
            return Err(ConfigError::invalid(
                "consume.tags",
                "tags must be non-empty and at most 32767 bytes",
            ));
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(ConfigError::invalid(
                "consume.concurrency",
                format!("{} is not in 1..={MAX_CONCURRENCY}", self.concurrency),
            ));
        }
        if self.max_retry == Some(0) {
            return Err(ConfigError::invalid(
                "consume.max_retry",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The PULL filters these options ask for: one TAG filter, or none.
    pub(crate) fn pull_filters(&self) -> Vec<PullFilter> {
        if self.tags.is_empty() {
            return Vec::new();
        }
        let tag_type = match self.tag_type {
            TagType::NoTag => TagType::Or,
            other => other,
        };
        vec![PullFilter::Tag {
            tag_type,
            tags: self.tags.clone(),
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_ask_for_no_filter() {
        let o = ConsumeOptions::default();
        assert_eq!(o.validate(), Ok(()));
        assert!(o.pull_filters().is_empty());
    }

    #[test]
    fn tags_become_one_tag_filter() {
        let o = ConsumeOptions {
            tags: vec!["a".into(), "b".into()],
            tag_type: TagType::And,
            ..ConsumeOptions::default()
        };
        assert_eq!(
            o.pull_filters(),
            vec![PullFilter::Tag {
                tag_type: TagType::And,
                tags: vec!["a".into(), "b".into()]
            }]
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let too_many = ConsumeOptions {
            tags: (0..11).map(|i| i.to_string()).collect(),
            ..ConsumeOptions::default()
        };
        assert_eq!(too_many.validate().unwrap_err().key(), "consume.tags");
        let zero = ConsumeOptions {
            concurrency: 0,
            ..ConsumeOptions::default()
        };
        assert_eq!(zero.validate().unwrap_err().key(), "consume.concurrency");
    }
}
