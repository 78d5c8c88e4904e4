//! Errors of the delay store layer (`message_log/`, `schedule_log/`, `dispatch_log/`, checkpoint).

use std::io;
use std::path::PathBuf;

/// What went wrong in the delay store. Every variant names the file it concerns.
///
/// Recoverable by retrying later: none of them in general. [`DelayStoreError::Poisoned`] means an
/// fsync failed and the store refuses further writes until it is reopened (the page cache state
/// after a failed fsync is unknown, so continuing could acknowledge lost data).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DelayStoreError {
    /// An I/O call failed.
    #[error("delay store I/O failed: {op} {path}")]
    Io {
        /// The operation, e.g. "append", "fsync", "open".
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A record failed validation in the middle of a file (not a torn tail).
    #[error("corrupt record in {path} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the bad record within the file.
        offset: u64,
        /// What check failed.
        reason: &'static str,
    },
    /// A record carries a format version this build does not know.
    #[error("unsupported format version {version} in {path} at offset {offset}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Byte offset of the record within the file.
        offset: u64,
        /// The version byte found.
        version: u8,
    },
    /// A field does not fit its length prefix or the record size limit.
    #[error("{field} is {len} bytes, more than the {max} allowed")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The store was created with another bucket length; buckets on disk would be misread.
    #[error("{path} was written with bucket length {on_disk_ms} ms, configured {configured_ms} ms")]
    BucketLengthChanged {
        /// The checkpoint file holding the old length.
        path: PathBuf,
        /// Length recorded on disk.
        on_disk_ms: i64,
        /// Length configured now.
        configured_ms: i64,
    },
    /// A time is outside the range the bucket layout can name.
    #[error("time {time_ms} ms cannot be mapped to a bucket of {bucket_len_ms} ms")]
    TimeOutOfRange {
        /// The time.
        time_ms: i64,
        /// The bucket length.
        bucket_len_ms: i64,
    },
    /// An earlier fsync failed; writes are refused until the store is reopened.
    #[error("delay store poisoned by a failed fsync of {path}; reopen to recover")]
    Poisoned {
        /// The file whose fsync failed.
        path: PathBuf,
    },
}

impl DelayStoreError {
    /// Wraps an `io::Error` with the operation and path it concerns.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
