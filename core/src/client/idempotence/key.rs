//! Idempotence keys: `<subject>%<group>%<extracted>` as in QMQ's `IdempotentChecker`.
//!
//! Invariant: a key is at most [`MAX_KEY_LEN`] bytes, the width of `deduplicate_tbl.k`
//! (`VARCHAR(100)`). A longer composite keeps its first bytes (cut at a char boundary) and
//! appends `#` plus 32 hex digits of a stable 128-bit hash of the *whole* composite, so distinct
//! long keys stay distinct and the same message always maps to the same key.

use std::fmt;

use crate::client::hash::fnv1a_128_hex;

/// Longest key stored (bytes).
pub const MAX_KEY_LEN: usize = 100;

/// `#` + 32 hex digits.
const DIGEST_SUFFIX_LEN: usize = 33;

/// The key under which a processed message is remembered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotenceKey(String);

impl IdempotenceKey {
    /// The key of a message of `subject` consumed by `group`, identified by `extracted`
    /// (by default the message id).
    pub fn new(subject: &str, group: &str, extracted: &str) -> Self {
        Self::from_composite(format!("{subject}%{group}%{extracted}"))
    }

    /// A key from an already composed string, shortened as described in the module docs.
    pub fn from_composite(composite: String) -> Self {
        if composite.len() <= MAX_KEY_LEN {
            return Self(composite);
        }
        let digest = fnv1a_128_hex(&[composite.as_bytes()]);
        let mut cut = MAX_KEY_LEN - DIGEST_SUFFIX_LEN;
        while !composite.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut key = composite;
        key.truncate(cut);
        key.push('#');
        key.push_str(&digest);
        Self(key)
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotenceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_has_qmq_shape() {
        let k = IdempotenceKey::new("order.created", "billing", "190603.154239.1.2.3.4.5.0");
        assert_eq!(
            k.as_str(),
            "order.created%billing%190603.154239.1.2.3.4.5.0"
        );
    }

    #[test]
    fn long_keys_are_shortened_deterministically_and_stay_distinct() {
        let subject = "s".repeat(120);
        let a = IdempotenceKey::new(&subject, "g", "id-1");
        let b = IdempotenceKey::new(&subject, "g", "id-2");
        assert_eq!(a.as_str().len(), MAX_KEY_LEN);
        assert_ne!(a, b);
        assert_eq!(a, IdempotenceKey::new(&subject, "g", "id-1"));
    }

    #[test]
    fn shortening_respects_char_boundaries() {
        let k = IdempotenceKey::new(&"é".repeat(80), "g", "id");
        assert!(k.as_str().len() <= MAX_KEY_LEN);
        assert!(k.as_str().contains('#'));
    }
}
