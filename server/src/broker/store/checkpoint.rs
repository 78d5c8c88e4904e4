//! Checkpoint files, in QMQ's text formats (spec §11), each starting with a version line.
//!
//! ```text
//! message checkpoint (version 2)       action checkpoint (version 3)
//! 2                                    3
//! <message-log offset>                 <action-log offset>
//! <subject>/<max sequence>   ...       <subject>/<group count>
//!                                      <group>/<broadcast 0|1>/<group pull>/<consumer count>
//!                                      <consumer id>/<pull>/<ack>   ...
//! ```
//!
//! Invariants: a checkpoint is written only after every log it describes was flushed up to its
//! offset; files are replaced atomically (write `*.tmp`, fsync, rename, fsync the directory), so a
//! crash leaves either the old or the new checkpoint.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::progress::{ConsumerProgress, GroupProgress, ProgressTable};
use super::segments::sync_dir;

/// File name of the message checkpoint.
pub(crate) const MESSAGE_FILE: &str = "message.checkpoint";
/// File name of the action checkpoint.
pub(crate) const ACTION_FILE: &str = "action.checkpoint";
const MESSAGE_VERSION: u32 = 2;
const ACTION_VERSION: u32 = 3;

/// Message-log offset up to which the consume logs are durable, and each subject's largest
/// assigned sequence at that point.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MessageCheckpoint {
    pub offset: u64,
    pub max_sequences: BTreeMap<String, i64>,
}

/// Action-log offset up to which `progress` (and the pull logs) are durable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ActionCheckpoint {
    pub offset: u64,
    pub progress: ProgressTable,
}

impl MessageCheckpoint {
    pub(crate) fn encode(&self) -> String {
        let mut out = format!("{MESSAGE_VERSION}\n{}\n", self.offset);
        for (subject, seq) in &self.max_sequences {
            out.push_str(&format!("{subject}/{seq}\n"));
        }
        out
    }

    pub(crate) fn decode(text: &str, path: &Path) -> Result<Self, StoreError> {
        let mut lines = Lines::new(text, path);
        lines.version(MESSAGE_VERSION)?;
        let offset = lines.number("offset")?;
        let mut max_sequences = BTreeMap::new();
        while let Some(line) = lines.next_line() {
            let [subject, seq] = lines.split::<2>(line)?;
            max_sequences.insert(subject.to_owned(), lines.parse(seq)?);
        }
        Ok(MessageCheckpoint {
            offset,
            max_sequences,
        })
    }
}

impl ActionCheckpoint {
    pub(crate) fn encode(&self) -> String {
        let mut out = format!("{ACTION_VERSION}\n{}\n", self.offset);
        let mut by_subject: BTreeMap<&str, Vec<(&str, &GroupProgress)>> = BTreeMap::new();
        for (subject, group, progress) in self.progress.iter() {
            by_subject
                .entry(subject)
                .or_default()
                .push((group, progress));
        }
        for (subject, groups) in by_subject {
            out.push_str(&format!("{subject}/{}\n", groups.len()));
            for (group, p) in groups {
                out.push_str(&format!(
                    "{group}/{}/{}/{}\n",
                    u8::from(p.broadcast),
                    p.pull,
                    p.consumers.len()
                ));
                for (id, c) in &p.consumers {
                    out.push_str(&format!("{id}/{}/{}\n", c.pull, c.ack));
                }
            }
        }
        out
    }

    pub(crate) fn decode(text: &str, path: &Path) -> Result<Self, StoreError> {
        let mut lines = Lines::new(text, path);
        lines.version(ACTION_VERSION)?;
        let offset = lines.number("offset")?;
        let mut progress = ProgressTable::default();
        while let Some(line) = lines.next_line() {
            let [subject, count] = lines.split::<2>(line)?;
            let group_count: usize = lines.parse(count)?;
            for _ in 0..group_count {
                let line = lines.required("group line")?;
                let [group, broadcast, pull, count] = lines.split::<4>(line)?;
                let mut g = GroupProgress::new(broadcast != "0", lines.parse(pull)?);
                let consumer_count: usize = lines.parse(count)?;
                for _ in 0..consumer_count {
                    let line = lines.required("consumer line")?;
                    let [id, pull, ack] = lines.split::<3>(line)?;
                    let c = ConsumerProgress {
                        pull: lines.parse(pull)?,
                        ack: lines.parse(ack)?,
                    };
                    g.consumers.insert(id.to_owned(), c);
                }
                progress.insert_group(subject, group, g);
            }
        }
        Ok(ActionCheckpoint { offset, progress })
    }
}

struct Lines<'a> {
    inner: std::str::Lines<'a>,
    line: usize,
    path: &'a Path,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        Lines {
            inner: text.lines(),
            line: 0,
            path,
        }
    }

    fn error(&self, reason: impl Into<String>) -> StoreError {
        StoreError::Checkpoint {
            path: self.path.to_path_buf(),
            line: self.line,
            reason: reason.into(),
        }
    }

    fn next_line(&mut self) -> Option<&'a str> {
        let line = self.inner.next().filter(|l| !l.is_empty());
        self.line += 1;
        line
    }

    fn required(&mut self, what: &str) -> Result<&'a str, StoreError> {
        self.next_line()
            .ok_or_else(|| self.error(format!("missing {what}")))
    }

    fn parse<T: std::str::FromStr>(&self, field: &str) -> Result<T, StoreError> {
        field
            .parse()
            .map_err(|_| self.error(format!("bad number {field:?}")))
    }

    fn number(&mut self, what: &str) -> Result<u64, StoreError> {
        let line = self.required(what)?;
        self.parse(line)
    }

    fn version(&mut self, expected: u32) -> Result<(), StoreError> {
        let version: u32 = self.number("version")? as u32;
        if version == expected {
            Ok(())
        } else {
            Err(self.error(format!(
                "unsupported version {version}, expected {expected}"
            )))
        }
    }

    /// Splits on the last `N - 1` slashes, so the first field may itself contain `/`.
    fn split<const N: usize>(&self, line: &'a str) -> Result<[&'a str; N], StoreError> {
        let mut parts: Vec<&str> = line.rsplitn(N, '/').collect();
        parts.reverse();
        parts
            .try_into()
            .map_err(|_| self.error(format!("expected {N} fields")))
    }
}

/// Replaces `dir/name` atomically with `contents`.
pub(crate) fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<(), StoreError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let write = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|e| StoreError::io("write checkpoint", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| StoreError::io("rename checkpoint", &path, e))?;
    sync_dir(dir)
}

/// Reads `dir/name`, `None` if it does not exist.
pub(crate) fn read(dir: &Path, name: &str) -> Result<Option<(String, PathBuf)>, StoreError> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(Some((text, path))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io("read checkpoint", &path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::store::action_log::record::{Action, PullAction, RangeAckAction};

    #[test]
    fn message_checkpoint_roundtrip() {
        let cp = MessageCheckpoint {
            offset: 4096,
            max_sequences: [("a".to_owned(), 3), ("%RETRY%a%g".to_owned(), -1)].into(),
        };
        let text = cp.encode();
        assert!(text.starts_with("2\n4096\n"));
        assert_eq!(
            MessageCheckpoint::decode(&text, Path::new("x")).unwrap(),
            cp
        );
    }

    #[test]
    fn action_checkpoint_roundtrip_in_qmq_v3_text() {
        let mut progress = ProgressTable::default();
        progress.apply(&Action::Pull(PullAction {
            subject: "s".into(),
            group: "g".into(),
            consumer_id: "c1".into(),
            timestamp: 1,
            broadcast: false,
            first_pull_seq: 0,
            last_pull_seq: 4,
            first_msg_seq: 10,
            last_msg_seq: 14,
        }));
        progress.apply(&Action::RangeAck(RangeAckAction {
            subject: "s".into(),
            group: "g".into(),
            consumer_id: "c1".into(),
            timestamp: 2,
            first: 0,
            last: 2,
        }));
        let cp = ActionCheckpoint {
            offset: 77,
            progress,
        };
        let text = cp.encode();
        assert_eq!(text, "3\n77\ns/1\ng/0/14/1\nc1/4/2\n");
        assert_eq!(ActionCheckpoint::decode(&text, Path::new("x")).unwrap(), cp);
    }

    #[test]
    fn bad_checkpoint_names_the_line() {
        let err = ActionCheckpoint::decode("3\n0\ns/2\ng/0/1/0\n", Path::new("cp")).unwrap_err();
        assert!(
            matches!(err, StoreError::Checkpoint { line: 5, .. }),
            "{err}"
        );
        let err = MessageCheckpoint::decode("9\n0\n", Path::new("cp")).unwrap_err();
        assert!(
            matches!(err, StoreError::Checkpoint { line: 1, .. }),
            "{err}"
        );
    }
}
