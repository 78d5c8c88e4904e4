//! Retention: deleting segments whose newest record is older than the configured retention.
//!
//! - message log: a segment's newest record time is its file's modification time (every write
//!   through the mapping updates it); the active and the newest segment are never deleted;
//! - consume logs: the append time in the last unit of each full, inactive segment;
//! - pull logs: an inactive segment goes once its last entry points before the oldest retained
//!   consume-log sequence of the subject (the messages it indexes are gone).
//!
//! Deleting a message-log segment leaves consume-log units pointing at it; reads skip them.

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::info;

use super::error::StoreError;
use super::{Store, lock};

/// What one retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionReport {
    /// Message-log segments deleted.
    pub message_segments: usize,
    /// Consume-log segments deleted (all subjects).
    pub consume_segments: usize,
    /// Pull-log segments deleted (all consumers).
    pub pull_segments: usize,
}

impl Store {
    /// Deletes every segment whose newest record is older than `now - retention`, never a
    /// segment that is still being written.
    ///
    /// # Errors
    /// I/O errors deleting files.
    pub fn clean_expired(&self, now: SystemTime) -> Result<RetentionReport, StoreError> {
        let cutoff = now.checked_sub(self.config.retention).unwrap_or(UNIX_EPOCH);
        let cutoff_ms = cutoff
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut report = RetentionReport::default();

        let candidates: Vec<(u64, PathBuf)> = {
            let state = lock(&self.messages)?;
            state
                .log
                .segments()
                .iter()
                .map(|s| (s.base(), s.path().to_path_buf()))
                .collect()
        };
        let mut doomed = Vec::new();
        for (base, path) in candidates {
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| StoreError::io("stat", &path, e))?;
            if modified > cutoff {
                break;
            }
            doomed.push(base);
        }
        let mut detached = Vec::new();
        let mut min_sequences = HashMap::new();
        {
            let mut state = lock(&self.messages)?;
            for base in doomed {
                match state.log.detach_segment(base) {
                    Some(path) => detached.push(path),
                    None => break,
                }
            }
            for (subject, consume) in &mut state.subjects {
                for (base, _first, end) in consume.units().inactive_segments() {
                    let expired = end
                        .checked_sub(1)
                        .and_then(|last| consume.read(last))
                        .is_none_or(|unit| unit.time <= cutoff_ms);
                    if !expired {
                        break;
                    }
                    consume.units_mut().remove_segment(base)?;
                    report.consume_segments += 1;
                }
                min_sequences.insert(subject.clone(), consume.min_sequence());
            }
        }
        for path in detached {
            fs::remove_file(&path).map_err(|e| StoreError::io("remove", &path, e))?;
            info!(file = %path.display(), "expired message log segment deleted");
            report.message_segments += 1;
        }

        let mut state = lock(&self.actions)?;
        for ((_, _, subject), log) in &mut state.pull_logs {
            let Some(&min) = min_sequences.get(subject) else {
                continue;
            };
            for (base, _first, end) in log.units().inactive_segments() {
                let gone = end
                    .checked_sub(1)
                    .and_then(|last| log.read(last))
                    .is_some_and(|seq| seq < min);
                if !gone {
                    break;
                }
                log.units_mut().remove_segment(base)?;
                report.pull_segments += 1;
            }
        }
        Ok(report)
    }
}
