//! Appending messages and reading them back by subject sequence.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::consume_log::{ConsumeLog, ConsumeUnit};
use super::error::StoreError;
use super::message_log::record::{header_len, payload_crc};
use super::{CONSUME_LOG_DIR, FlushPolicy, MessageState, Store, lock, now_millis, validate_name};

/// One message to append.
#[derive(Debug, Clone, Copy)]
pub struct AppendMessage<'a> {
    /// Subject (must pass [`validate_name`]).
    pub subject: &'a str,
    /// The producer's CRC-32 of `payload`.
    pub crc: i64,
    /// The SEND wire record without its leading CRC.
    pub payload: &'a [u8],
}

/// Where an appended message was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Message-log offset of the record.
    pub offset: u64,
    /// Record size in bytes (header + payload).
    pub size: u32,
    /// The per-subject (consume-log) sequence assigned.
    pub sequence: i64,
}

/// The result of [`Store::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadBatch {
    /// The messages found, in sequence order.
    pub messages: Vec<StoredMessage>,
    /// The sequence after the last one examined (where to continue).
    pub next: i64,
}

/// A message read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Consume-log sequence within its subject.
    pub sequence: i64,
    /// Message-log offset of the record.
    pub offset: u64,
    /// Append time (epoch ms).
    pub time: i64,
    /// The producer's CRC.
    pub crc: i64,
    /// The SEND wire record without its leading CRC.
    pub payload: Bytes,
}

impl Store {
    /// Appends a batch of messages, assigning each subject's next sequences in order. With
    /// [`FlushPolicy::Sync`] the messages are on disk when this returns.
    ///
    /// Every message is validated (name, CRC) before anything is written, so a bad message
    /// fails the batch without storing any of it.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`], [`StoreError::CrcMismatch`], [`StoreError::RecordTooLarge`],
    /// [`StoreError::Poisoned`] after a failed flush, I/O errors. After an I/O error part of the
    /// batch may be stored.
    pub fn append(&self, batch: &[AppendMessage<'_>]) -> Result<Vec<Appended>, StoreError> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(StoreError::Poisoned);
        }
        for m in batch {
            validate_name("subject", m.subject)?;
            if m.payload.is_empty() {
                return Err(StoreError::EmptyPayload {
                    subject: m.subject.to_owned(),
                });
            }
            let computed = payload_crc(m.payload);
            if computed != m.crc {
                return Err(StoreError::CrcMismatch {
                    subject: m.subject.to_owned(),
                    given: m.crc,
                    computed,
                });
            }
        }
        let time = now_millis();
        let mut out = Vec::with_capacity(batch.len());
        {
            let mut state = lock(&self.messages)?;
            let MessageState { log, subjects } = &mut *state;
            for m in batch {
                let consume = match subjects.get_mut(m.subject) {
                    Some(c) => c,
                    None => {
                        let dir = self.dir.join(CONSUME_LOG_DIR).join(m.subject);
                        let c = ConsumeLog::open(&dir, self.config.consume_log_units_per_segment)?;
                        subjects.entry(m.subject.to_owned()).or_insert(c)
                    }
                };
                let sequence = consume.next();
                let placed = log.append(time, sequence as i64, m.subject, m.crc, m.payload)?;
                consume.write(
                    sequence,
                    ConsumeUnit {
                        time,
                        offset: placed.offset,
                        size: placed.size,
                        header_len: placed.header_len,
                    },
                )?;
                out.push(Appended {
                    offset: placed.offset,
                    size: placed.size,
                    sequence: sequence as i64,
                });
            }
        }
        if self.config.flush == FlushPolicy::Sync {
            self.flush_messages()?;
        }
        Ok(out)
    }

    /// Whether a message of `subject` with a payload of `payload_len` bytes fits in a segment
    /// (larger ones are refused by [`Store::append`] with [`StoreError::RecordTooLarge`]).
    pub fn fits(&self, subject: &str, payload_len: usize) -> bool {
        (header_len(subject.len()) + payload_len) as u64 <= self.config.message_segment_size
    }

    /// The messages of `subject` with sequences in `[from, from + max)` (with `from` first
    /// raised to the oldest retained sequence), in order. Sequences whose record is gone are
    /// skipped; [`ReadBatch::next`] says where the next read should start.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn read(&self, subject: &str, from: i64, max: usize) -> Result<ReadBatch, StoreError> {
        let state = lock(&self.messages)?;
        let Some(consume) = state.subjects.get(subject) else {
            return Ok(ReadBatch {
                messages: Vec::new(),
                next: from.max(0),
            });
        };
        let start = u64::try_from(from).unwrap_or(0).max(consume.min_sequence());
        let end = consume
            .next()
            .min(start.saturating_add(max as u64))
            .max(start);
        let mut messages = Vec::with_capacity(((end - start) as usize).min(1024));
        for seq in start..end {
            if let Some(m) = read_one(&state, subject, consume, seq) {
                messages.push(m);
            }
        }
        Ok(ReadBatch {
            messages,
            next: end as i64,
        })
    }

    /// The message of `subject` with sequence `sequence`, if still stored.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn read_at(
        &self,
        subject: &str,
        sequence: i64,
    ) -> Result<Option<StoredMessage>, StoreError> {
        let state = lock(&self.messages)?;
        let Ok(seq) = u64::try_from(sequence) else {
            return Ok(None);
        };
        Ok(state
            .subjects
            .get(subject)
            .and_then(|consume| read_one(&state, subject, consume, seq)))
    }

    /// Largest sequence assigned in `subject`, `-1` if none.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn max_sequence(&self, subject: &str) -> Result<i64, StoreError> {
        let state = lock(&self.messages)?;
        Ok(state
            .subjects
            .get(subject)
            .map_or(-1, |c| c.next() as i64 - 1))
    }

    /// Oldest retained sequence of `subject` (equal to `max_sequence + 1` when none is left).
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn min_sequence(&self, subject: &str) -> Result<i64, StoreError> {
        let state = lock(&self.messages)?;
        Ok(state
            .subjects
            .get(subject)
            .map_or(0, |c| c.min_sequence() as i64))
    }

    /// Message-log offset of the oldest retained byte.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn message_log_start(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.messages)?.log.min_offset())
    }

    /// Message-log offset at which the next record will be written.
    ///
    /// # Errors
    /// [`StoreError::LockPoisoned`] only.
    pub fn message_log_end(&self) -> Result<u64, StoreError> {
        Ok(lock(&self.messages)?.log.write_offset())
    }
}

fn read_one(
    state: &MessageState,
    subject: &str,
    consume: &ConsumeLog,
    seq: u64,
) -> Option<StoredMessage> {
    let unit = consume.read(seq)?;
    let record = state.log.read(unit.offset, unit.size)?;
    if record.sequence != seq as i64 || record.subject != subject {
        return None;
    }
    Some(StoredMessage {
        sequence: seq as i64,
        offset: unit.offset,
        time: record.time,
        crc: record.crc,
        payload: Bytes::copy_from_slice(record.payload),
    })
}
