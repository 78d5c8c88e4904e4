//! Errors of the delay role above the store: the scheduler and its configuration.

use std::path::PathBuf;

use super::store::DelayStoreError;

/// What went wrong in the delay scheduler.
///
/// Per-message problems (a bad schedule time) are not here: they are [`super::ScheduleError`]s
/// returned next to each message, so one bad message does not fail a batch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelayError {
    /// The store failed; `op` says what the scheduler was doing.
    #[error("delay store failed while {op} (data dir {dir})")]
    Store {
        /// What the scheduler was doing, e.g. "appending", "loading bucket".
        op: &'static str,
        /// The store directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: DelayStoreError,
    },
    /// A configuration value is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}
