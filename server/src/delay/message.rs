//! A delay message as the role receives it, and validation of its schedule time.
//!
//! Invariants worth naming:
//! - `record` is the whole SEND_MESSAGE wire record including its leading i64 CRC (spec §3); it
//!   is stored and later sent to a broker byte for byte.
//! - A schedule time in the past is valid and means "deliver now"; the message goes into the
//!   bucket of the current time, never into an old bucket.

use bytes::Bytes;

use super::store::MAX_RECORD_LEN;

/// The last millisecond of year 9999 (UTC); later times are treated as overflowed values.
pub const MAX_SCHEDULE_TIME_MS: i64 = 253_402_300_799_999;

/// One message accepted from a delay producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayMessage {
    /// The whole SEND_MESSAGE record, leading CRC included.
    pub record: Bytes,
    /// The record's subject.
    pub subject: String,
    /// The record's message id.
    pub message_id: String,
    /// Delivery time in milliseconds since the Unix epoch.
    pub schedule_time_ms: i64,
}

/// Why a message cannot be scheduled. The text is meant for the SEND response's remark.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The schedule time is before 1970.
    #[error("schedule time {schedule_time_ms} ms is negative")]
    Negative {
        /// The rejected time.
        schedule_time_ms: i64,
    },
    /// The schedule time is not a plausible date (after year 9999), typically an overflowed sum.
    #[error("schedule time {schedule_time_ms} ms overflows the supported range (max {max_ms} ms)")]
    Overflow {
        /// The rejected time.
        schedule_time_ms: i64,
        /// The largest accepted time.
        max_ms: i64,
    },
    /// The schedule time is further ahead than the configured maximum delay.
    #[error(
        "schedule time {schedule_time_ms} ms is {delay_ms} ms ahead, beyond the maximum delay of {max_delay_ms} ms"
    )]
    BeyondMaxDelay {
        /// The rejected time.
        schedule_time_ms: i64,
        /// How far ahead it is.
        delay_ms: i64,
        /// The configured maximum.
        max_delay_ms: i64,
    },
    /// The record is larger than the store keeps.
    #[error("record is {len} bytes, above the {max} byte limit")]
    RecordTooLarge {
        /// Record length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The subject or message id does not fit a 16-bit length, or the subject is empty.
    #[error("{field} is invalid: {reason}")]
    BadField {
        /// "subject" or "message id".
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl DelayMessage {
    /// Checks the message against `now_ms` and `max_delay_ms`, returning the time whose bucket
    /// receives it: the schedule time, or `now_ms` if that is later.
    ///
    /// # Errors
    /// A [`ScheduleError`] naming the problem.
    pub fn validate(&self, now_ms: i64, max_delay_ms: i64) -> Result<i64, ScheduleError> {
        let t = self.schedule_time_ms;
        if t < 0 {
            return Err(ScheduleError::Negative {
                schedule_time_ms: t,
            });
        }
        if t > MAX_SCHEDULE_TIME_MS {
            return Err(ScheduleError::Overflow {
                schedule_time_ms: t,
                max_ms: MAX_SCHEDULE_TIME_MS,
            });
        }
        let delay_ms = t.saturating_sub(now_ms);
        if delay_ms > max_delay_ms {
            return Err(ScheduleError::BeyondMaxDelay {
                schedule_time_ms: t,
                delay_ms,
                max_delay_ms,
            });
        }
        if self.record.len() > MAX_RECORD_LEN {
            return Err(ScheduleError::RecordTooLarge {
                len: self.record.len(),
                max: MAX_RECORD_LEN,
            });
        }
        if self.subject.is_empty() {
            return Err(ScheduleError::BadField {
                field: "subject",
                reason: "empty",
            });
        }
        for (field, v) in [("subject", &self.subject), ("message id", &self.message_id)] {
            if v.len() > usize::from(u16::MAX) {
                return Err(ScheduleError::BadField {
                    field,
                    reason: "longer than 65535 bytes",
                });
            }
        }
        Ok(t.max(now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const TWO_YEARS: i64 = 2 * 365 * 24 * 3_600_000;

    fn msg(t: i64) -> DelayMessage {
        DelayMessage {
            record: Bytes::from_static(b"rec"),
            subject: "s".into(),
            message_id: "id".into(),
            schedule_time_ms: t,
        }
    }

    #[test]
    fn bad_schedule_times_get_clear_errors() {
        let e = msg(-1).validate(NOW, TWO_YEARS).expect_err("negative");
        assert_eq!(e.to_string(), "schedule time -1 ms is negative");
        let e = msg(i64::MAX)
            .validate(NOW, TWO_YEARS)
            .expect_err("overflow");
        assert!(matches!(e, ScheduleError::Overflow { .. }));
        assert!(e.to_string().contains("overflows"));
        let e = msg(NOW + TWO_YEARS + 1)
            .validate(NOW, TWO_YEARS)
            .expect_err("too far");
        assert!(matches!(
            e,
            ScheduleError::BeyondMaxDelay { delay_ms, .. } if delay_ms == TWO_YEARS + 1
        ));
        assert!(e.to_string().contains("beyond the maximum delay"));
    }

    #[test]
    fn past_times_are_due_now_and_future_ones_keep_their_time() {
        assert_eq!(msg(5).validate(NOW, TWO_YEARS), Ok(NOW));
        assert_eq!(
            msg(NOW + TWO_YEARS).validate(NOW, TWO_YEARS),
            Ok(NOW + TWO_YEARS)
        );
    }

    #[test]
    fn empty_subject_is_rejected() {
        let mut m = msg(NOW);
        m.subject.clear();
        assert!(matches!(
            m.validate(NOW, TWO_YEARS),
            Err(ScheduleError::BadField {
                field: "subject",
                ..
            })
        ));
    }
}
