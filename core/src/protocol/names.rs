//! Names with protocol meaning: subject validity, retry and dead-letter subjects (spec §6), and
//! the reserved attribute keys (spec §7).

/// Prefix of retry subjects: `%RETRY%<subject>%<group>`.
pub const RETRY_PREFIX: &str = "%RETRY";
/// Prefix of dead-letter subjects: `%DEAD_RETRY%<subject>%<group>`.
pub const DEAD_RETRY_PREFIX: &str = "%DEAD_RETRY";

/// Reserved attribute keys (spec §7).
pub mod attr {
    /// Creation time, epoch ms.
    pub const CREATE_TIME: &str = "qmq_createTime";
    /// Informational expiry, epoch ms.
    pub const EXPIRE_TIME: &str = "qmq_expireTime";
    /// Target consumer group of delayed retry copies.
    pub const CONSUMER_GROUP_NAME: &str = "qmq_consumerGroupName";
    /// Delivery time of delay messages, epoch ms.
    pub const SCHEDULE_RECEIVE_TIME: &str = "qmq_scheduleReceiveTime";
    /// Delivery attempt number (absent = 1).
    pub const TIMES: &str = "qmq_times";
    /// Maximum retries set by the producer.
    pub const MAX_RETRY_NUM: &str = "qmq_maxRetryNum";
    /// Application code.
    pub const APP_CODE: &str = "qmq_appCode";
    /// Pull offset (client-side only).
    pub const PULL_OFFSET: &str = "qmq_pullOffset";
    /// Attributes failed to decode (client-side only).
    pub const CORRUPT_DATA: &str = "qmq_corruptData";
    /// Environment for sub-environment isolation.
    pub const ENV: &str = "qmq_env";
    /// Sub-environment for isolation.
    pub const SUB_ENV: &str = "qmq_subEnv";
    /// Outbox row id added by the watchdog.
    pub const SEQUENCE: &str = "qmq_sequence";
    /// Every reserved key; user code may not set these.
    pub const RESERVED: [&str; 11] = [
        CREATE_TIME,
        EXPIRE_TIME,
        CONSUMER_GROUP_NAME,
        SCHEDULE_RECEIVE_TIME,
        TIMES,
        MAX_RETRY_NUM,
        APP_CODE,
        PULL_OFFSET,
        CORRUPT_DATA,
        ENV,
        SUB_ENV,
    ];
}

/// Whether a subject, group or consumer id is acceptable: non-empty, at most 32767 bytes, and
/// free of `/`, CR, LF and whitespace (spec §2.2, §3, §4).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= i16::MAX as usize
        && !name.chars().any(|c| c == '/' || c.is_whitespace())
}

/// `%RETRY%<subject>%<group>`.
pub fn retry_subject(subject: &str, group: &str) -> String {
    format!("{RETRY_PREFIX}%{subject}%{group}")
}

/// `%DEAD_RETRY%<subject>%<group>`.
pub fn dead_retry_subject(subject: &str, group: &str) -> String {
    format!("{DEAD_RETRY_PREFIX}%{subject}%{group}")
}

/// What kind of subject a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// A real subject.
    Real,
    /// A retry subject.
    Retry,
    /// A dead-letter subject.
    DeadRetry,
}

/// Splits a retry or dead-letter subject into (kind, real subject, group); a real subject comes
/// back as `(Real, subject, "")`. Mirrors QMQ: split on `%`, drop empty parts, require 3 parts.
pub fn parse_subject(name: &str) -> (SubjectKind, &str, &str) {
    if !name.starts_with('%') {
        return (SubjectKind::Real, name, "");
    }
    let parts: Vec<&str> = name
        .split('%')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        ["RETRY", subject, group] => (SubjectKind::Retry, subject, group),
        ["DEAD_RETRY", subject, group] => (SubjectKind::DeadRetry, subject, group),
        _ => (SubjectKind::Real, name, ""),
    }
}

/// The real subject behind a retry or dead-letter subject (the name itself otherwise).
pub fn real_subject(name: &str) -> &str {
    parse_subject(name).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_names_roundtrip() {
        let r = retry_subject("order.changed", "g1");
        assert_eq!(r, "%RETRY%order.changed%g1");
        assert_eq!(
            parse_subject(&r),
            (SubjectKind::Retry, "order.changed", "g1")
        );
        let d = dead_retry_subject("s", "g");
        assert_eq!(parse_subject(&d), (SubjectKind::DeadRetry, "s", "g"));
        assert_eq!(real_subject("plain"), "plain");
        assert_eq!(parse_subject("%odd"), (SubjectKind::Real, "%odd", ""));
    }

    #[test]
    fn name_validity() {
        assert!(is_valid_name("order.changed"));
        for bad in ["", "a/b", "a b", "a\nb", "a\rb", "a\tb"] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }
}
