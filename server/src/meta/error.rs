//! The one error type of the meta role.

use std::path::PathBuf;

use crate::config::ConfigError;

/// Why the meta role could not start, load or save its state.
///
/// Request-level problems (a malformed body, an invalid subject) are answered on the wire and
/// never become a `MetaError`; these errors are about configuration and the data directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// A configuration key holds an unusable value; the source names the key.
    #[error("invalid meta configuration: {source}")]
    Config {
        /// The validation error, naming the key (`meta.<key>`).
        #[from]
        source: ConfigError,
    },
    /// Reading, writing or syncing a file of the data directory failed.
    #[error("meta state I/O on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The state file exists but is not a state file this version understands.
    #[error("meta state file {path} is corrupt: {source}")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// The decoding error (it carries line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The state file was written by an incompatible format version.
    #[error("meta state file {path} has format version {found}, expected {expected}")]
    UnsupportedVersion {
        /// The state file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Version this build writes.
        expected: u32,
    },
    /// Serializing the in-memory state failed (should not happen for plain data).
    #[error("cannot serialize meta state: {source}")]
    Serialize {
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The blocking task that writes the state file did not complete.
    #[error("meta state writer task failed: {source}")]
    Writer {
        /// Why the task ended (cancelled or panicked).
        #[source]
        source: tokio::task::JoinError,
    },
}

impl MetaError {
    /// Shorthand for [`MetaError::Io`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
