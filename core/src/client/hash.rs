//! A stable, dependency-free 128-bit hash (FNV-1a 128).
//!
//! Used where QMQ uses MD5 as a fingerprint only (client ids, over-long idempotence keys): the
//! value must be stable across builds and Rust versions, which `std::hash` does not promise.
//! It is **not** a cryptographic hash.

const FNV128_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV128_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// FNV-1a 128 of `parts`, each part followed by a 0xff separator so that `["ab", "c"]` and
/// `["a", "bc"]` differ.
pub(crate) fn fnv1a_128(parts: &[&[u8]]) -> u128 {
    let mut h = FNV128_OFFSET;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u128::from(b);
            h = h.wrapping_mul(FNV128_PRIME);
        }
    }
    h
}

/// 32 lowercase hex digits of [`fnv1a_128`].
pub(crate) fn fnv1a_128_hex(parts: &[&[u8]]) -> String {
    format!("{:032x}", fnv1a_128(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_separates_parts() {
        // Pinned (checked against an independent implementation): ids and keys derived from
        // this hash must not change between releases.
        assert_eq!(fnv1a_128_hex(&[b"qmq"]), "69ea2df6be757277b806e99c5dd13983");
        assert_eq!(fnv1a_128_hex(&[]), format!("{FNV128_OFFSET:032x}"));
        assert_ne!(fnv1a_128(&[b"ab", b"c"]), fnv1a_128(&[b"a", b"bc"]));
        assert_eq!(fnv1a_128_hex(&[b"x"]).len(), 32);
    }
}
