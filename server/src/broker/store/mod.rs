//! The broker store: message log, per-subject consume logs, per-consumer pull logs, action log
//! and checkpoints, all under one data directory.
//!
//! ```text
//! <dir>/message_log/<20-digit base offset>            messages of every subject
//! <dir>/consume_log/<subject>/<base>                   22-byte units, sequence n at n*22
//! <dir>/pull_log/<consumer id>/<group>/<subject>/<base> 8-byte units, pull offset n at n*8
//! <dir>/action_log/<base>                              PULL / RANGE_ACK records
//! <dir>/checkpoint/{message,action}.checkpoint
//! ```
//!
//! Invariants worth naming:
//! - the message log is the source of truth: consume logs are rewritten from it after the
//!   message checkpoint, and the action log likewise rebuilds pull logs and consumer progress
//!   after the action checkpoint, so a restart restores progress exactly;
//! - a checkpoint is written only after the logs it covers were flushed;
//! - the store is synchronous and never blocks on anything but its own short locks and disk
//!   syncs; it knows nothing of tokio. Two locks exist (`messages`, `actions`) and no code path
//!   holds both at once.
//! - names used as path components (subject, group, consumer id) are validated by
//!   [`validate_name`].

mod action_log;
mod append;
mod checkpoint;
mod codec;
mod config;
mod consume_log;
mod consumer_ops;
mod error;
mod maintenance;
mod message_log;
mod mmap;
mod prefault;
mod progress;
mod pull_log;
mod retention;
mod scan;
mod segments;
mod unit_log;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::info;

pub use action_log::record::{Action, PullAction, RangeAckAction};
pub use append::{AppendMessage, Appended, ReadBatch, StoredMessage};
pub use config::{FlushPolicy, StoreConfig};
pub use error::StoreError;
pub use maintenance::Background;
pub use progress::{ConsumerProgress, GroupProgress, ProgressTable};
pub use retention::RetentionReport;

use action_log::ActionLog;
use checkpoint::{ActionCheckpoint, MessageCheckpoint};
use consume_log::{ConsumeLog, ConsumeUnit};
use message_log::MessageLog;
use pull_log::PullLog;

const MESSAGE_LOG_DIR: &str = "message_log";
const CONSUME_LOG_DIR: &str = "consume_log";
const PULL_LOG_DIR: &str = "pull_log";
const ACTION_LOG_DIR: &str = "action_log";
const CHECKPOINT_DIR: &str = "checkpoint";
/// Longest name accepted as a path component.
const MAX_NAME_LEN: usize = 200;

/// The broker's persistent store. Cheap to share behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    config: StoreConfig,
    messages: Mutex<MessageState>,
    actions: Mutex<ActionState>,
    flush: Mutex<FlushMarks>,
    poisoned: AtomicBool,
}

#[derive(Debug)]
struct MessageState {
    log: MessageLog,
    /// Consume log per subject; its `next()` is the subject's next sequence.
    subjects: HashMap<String, ConsumeLog>,
}

/// Key of a pull log: (consumer id, group, subject).
type PullKey = (String, String, String);

#[derive(Debug)]
struct ActionState {
    log: ActionLog,
    progress: ProgressTable,
    pull_logs: HashMap<PullKey, PullLog>,
}

/// How far each log is known to be durable.
#[derive(Debug, Default)]
struct FlushMarks {
    message: u64,
    action: u64,
    action_checkpoint: u64,
}

/// Checks that `name` can be used as a single path component.
///
/// # Errors
/// [`StoreError::InvalidName`] if it is empty, too long, `.`/`..`, or contains `/`, `\`, NUL or
/// a line break.
pub fn validate_name(kind: &'static str, name: &str) -> Result<(), StoreError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > MAX_NAME_LEN {
        "longer than 200 bytes"
    } else if name == "." || name == ".." {
        "reserved path component"
    } else if name
        .chars()
        .any(|c| matches!(c, '/' | '\\' | '\0' | '\r' | '\n'))
    {
        "contains a path separator, NUL or line break"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName {
        kind,
        name: name.to_owned(),
        reason,
    })
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, StoreError> {
    m.lock().map_err(|_| StoreError::LockPoisoned)
}

impl Store {
    /// Opens (or creates) the store in `dir` and recovers it: loads the checkpoints, replays the
    /// message log into the consume logs and the action log into pull logs and progress, and
    /// truncates torn tails.
    ///
    /// # Errors
    /// Invalid configuration, unreadable checkpoints, corruption in the middle of a log, I/O.
    pub fn open(config: StoreConfig, dir: &Path) -> Result<Store, StoreError> {
        config.validate()?;
        let checkpoint_dir = dir.join(CHECKPOINT_DIR);
        segments::create_dir(&checkpoint_dir)?;
        let message_cp = match checkpoint::read(&checkpoint_dir, checkpoint::MESSAGE_FILE)? {
            Some((text, path)) => MessageCheckpoint::decode(&text, &path)?,
            None => MessageCheckpoint::default(),
        };
        let action_cp = match checkpoint::read(&checkpoint_dir, checkpoint::ACTION_FILE)? {
            Some((text, path)) => ActionCheckpoint::decode(&text, &path)?,
            None => ActionCheckpoint::default(),
        };
        let messages = Self::recover_messages(&config, dir, &message_cp)?;
        let actions = Self::recover_actions(&config, dir, action_cp.clone(), &messages)?;
        info!(
            offset = messages.log.write_offset(),
            subjects = messages.subjects.len(),
            "broker store opened"
        );
        let marks = FlushMarks {
            message: message_cp.offset,
            action: action_cp.offset,
            action_checkpoint: action_cp.offset,
        };
        Ok(Store {
            dir: dir.to_path_buf(),
            config,
            messages: Mutex::new(messages),
            actions: Mutex::new(actions),
            flush: Mutex::new(marks),
            poisoned: AtomicBool::new(false),
        })
    }

    fn recover_messages(
        config: &StoreConfig,
        dir: &Path,
        cp: &MessageCheckpoint,
    ) -> Result<MessageState, StoreError> {
        let consume_dir = dir.join(CONSUME_LOG_DIR);
        segments::create_dir(&consume_dir)?;
        let units = config.consume_log_units_per_segment;
        let mut subjects: HashMap<String, ConsumeLog> = HashMap::new();
        let mut next: HashMap<String, u64> = HashMap::new();
        for (subject, &max) in &cp.max_sequences {
            validate_name("subject", subject)?;
            next.insert(subject.clone(), u64::try_from(max + 1).unwrap_or(0));
        }
        for subject in list_dirs(&consume_dir)? {
            next.entry(subject).or_insert(0);
        }
        for subject in next.keys() {
            let log = ConsumeLog::open(&consume_dir.join(subject), units)?;
            subjects.insert(subject.clone(), log);
        }
        let log = MessageLog::open(
            &dir.join(MESSAGE_LOG_DIR),
            config.message_segment_size,
            cp.offset,
            |record, offset| {
                let seq = u64::try_from(record.sequence).unwrap_or(0);
                let consume = match subjects.get_mut(record.subject) {
                    Some(log) => log,
                    None => {
                        validate_name("subject", record.subject)?;
                        let log = ConsumeLog::open(&consume_dir.join(record.subject), units)?;
                        subjects.entry(record.subject.to_owned()).or_insert(log)
                    }
                };
                consume.write(
                    seq,
                    ConsumeUnit {
                        time: record.time,
                        offset,
                        size: record.total_len() as u32,
                        header_len: record.header_len as u16,
                    },
                )?;
                let n = next.entry(record.subject.to_owned()).or_insert(0);
                *n = (*n).max(seq + 1);
                Ok(())
            },
        )?;
        for (subject, consume) in &mut subjects {
            consume.truncate(next.get(subject).copied().unwrap_or(0))?;
        }
        Ok(MessageState { log, subjects })
    }

    fn recover_actions(
        config: &StoreConfig,
        dir: &Path,
        cp: ActionCheckpoint,
        messages: &MessageState,
    ) -> Result<ActionState, StoreError> {
        let pull_dir = dir.join(PULL_LOG_DIR);
        let units = config.pull_log_units_per_segment;
        let mut progress = cp.progress;
        let mut pull_logs: HashMap<PullKey, PullLog> = HashMap::new();
        let log = ActionLog::open(
            &dir.join(ACTION_LOG_DIR),
            config.action_segment_size,
            cp.offset,
            |action| {
                if let Action::Pull(p) = &action {
                    if !p.broadcast {
                        let key = pull_key(&p.consumer_id, &p.group, &p.subject);
                        let log = match pull_logs.entry(key) {
                            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                            std::collections::hash_map::Entry::Vacant(e) => {
                                let path = pull_log_path(&pull_dir, e.key())?;
                                e.insert(PullLog::open(&path, units)?)
                            }
                        };
                        write_pull_run(log, p)?;
                    }
                }
                progress.apply(&action);
                Ok(())
            },
        )?;
        // Pull logs end exactly at each consumer's pull offset.
        for (subject, group, gp) in progress.iter() {
            if gp.broadcast {
                continue;
            }
            for (consumer, cp) in &gp.consumers {
                let key = pull_key(consumer, group, subject);
                let log = match pull_logs.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let path = pull_log_path(&pull_dir, e.key())?;
                        e.insert(PullLog::open(&path, units)?)
                    }
                };
                log.truncate(u64::try_from(cp.pull + 1).unwrap_or(0))?;
            }
        }
        progress.clamp_cursors(|subject| {
            messages
                .subjects
                .get(subject)
                .map_or(-1, |c| c.next() as i64 - 1)
        });
        Ok(ActionState {
            log,
            progress,
            pull_logs,
        })
    }

    /// The directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }
}

fn pull_key(consumer_id: &str, group: &str, subject: &str) -> PullKey {
    (consumer_id.to_owned(), group.to_owned(), subject.to_owned())
}

fn pull_log_path(pull_dir: &Path, key: &PullKey) -> Result<PathBuf, StoreError> {
    let (consumer, group, subject) = key;
    validate_name("consumer id", consumer)?;
    validate_name("group", group)?;
    validate_name("subject", subject)?;
    Ok(pull_dir.join(consumer).join(group).join(subject))
}

/// Writes the pull-log units of one PULL action (pull offsets map one to one onto message
/// sequences; a malformed action writes only the overlapping part).
fn write_pull_run(log: &mut PullLog, p: &PullAction) -> Result<(), StoreError> {
    if p.first_pull_seq < 0 || p.first_msg_seq < 0 {
        return Ok(());
    }
    let count = (p.last_pull_seq - p.first_pull_seq).min(p.last_msg_seq - p.first_msg_seq) + 1;
    for i in 0..count.max(0) {
        log.write((p.first_pull_seq + i) as u64, (p.first_msg_seq + i) as u64)?;
    }
    Ok(())
}

fn list_dirs(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io("read dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io("read dir", dir, e))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if let (true, Some(name)) = (is_dir, entry.file_name().to_str()) {
            if validate_name("subject", name).is_ok() {
                out.push(name.to_owned());
            }
        }
    }
    Ok(out)
}
