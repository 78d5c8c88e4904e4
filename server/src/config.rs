//! Server configuration errors shared by every role's config section.

/// A configuration value is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A key holds a value outside its range.
    #[error("invalid value for `{key}`: {reason}")]
    Invalid {
        /// The dotted key, e.g. `broker.port`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read or parsed.
    #[error("cannot load config file {path}: {reason}")]
    File {
        /// The path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl ConfigError {
    /// An invalid value for `key`.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
