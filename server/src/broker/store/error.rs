//! The store layer's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the broker store.
///
/// Variants carry the file and offset they concern; an `io::Error` is always kept as the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation on a store file failed.
    #[error("{op} failed on {path}")]
    Io {
        /// What was being done (`"open"`, `"map"`, `"sync"`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A record in the middle of a log is invalid while valid data follows it: the store refuses
    /// to open rather than silently dropping messages.
    #[error("corrupt record in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset inside that file.
        offset: u64,
        /// What check failed.
        reason: &'static str,
    },
    /// A checkpoint file could not be parsed.
    #[error("invalid checkpoint {path} at line {line}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A record does not fit in one segment.
    #[error("record of {size} bytes does not fit in a segment of {segment_size} bytes")]
    RecordTooLarge {
        /// Encoded record size.
        size: u64,
        /// Configured segment size.
        segment_size: u64,
    },
    /// A subject, group or consumer id cannot be used as a file name.
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        /// `"subject"`, `"group"` or `"consumer id"`.
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The CRC given with a message does not match its payload; storing it would make recovery
    /// truncate the log there.
    #[error("crc mismatch for subject {subject:?}: given {given:#x}, computed {computed:#x}")]
    CrcMismatch {
        /// The message's subject.
        subject: String,
        /// The CRC the producer sent.
        given: i64,
        /// CRC-32 of the payload.
        computed: i64,
    },
    /// A message with an empty payload (a SEND record is never empty).
    #[error("empty payload for subject {subject:?}")]
    EmptyPayload {
        /// The message's subject.
        subject: String,
    },
    /// A store configuration value is unusable.
    #[error("invalid store configuration `{key}`: {reason}")]
    Config {
        /// The configuration key.
        key: &'static str,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A previous flush failed; the store refuses writes because it cannot tell what is durable.
    #[error("store is poisoned by an earlier failed flush")]
    Poisoned,
    /// A thread panicked while holding a store lock; the in-memory state may be inconsistent.
    #[error("a store lock was poisoned by a panic")]
    LockPoisoned,
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
