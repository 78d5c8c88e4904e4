//! Time buckets: which schedule log a delivery time belongs to, and how its files are named.
//!
//! Invariants worth naming:
//! - A bucket covers `[start, start + len)` with `start = id × len`; ids are dense `u32`s, so an
//!   index entry names its bucket in four bytes.
//! - Files are named by the bucket start in epoch milliseconds, 20 digits, zero-padded, so a
//!   directory listing sorts by time.

use super::error::DelayStoreError;

/// Index of a bucket: `start_ms / bucket_len_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketId(pub u32);

/// Maps times to buckets for one bucket length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketLayout {
    len_ms: i64,
}

impl BucketLayout {
    /// Smallest accepted bucket length (one minute), which keeps ids within `u32` for any time
    /// a schedule may name.
    pub const MIN_LEN_MS: i64 = 60_000;

    /// A layout with buckets of `len_ms`.
    ///
    /// # Errors
    /// [`DelayStoreError::TimeOutOfRange`] if `len_ms` is below [`Self::MIN_LEN_MS`].
    pub fn new(len_ms: i64) -> Result<Self, DelayStoreError> {
        if len_ms < Self::MIN_LEN_MS {
            return Err(DelayStoreError::TimeOutOfRange {
                time_ms: 0,
                bucket_len_ms: len_ms,
            });
        }
        Ok(Self { len_ms })
    }

    /// The bucket length in milliseconds.
    pub fn len_ms(&self) -> i64 {
        self.len_ms
    }

    /// The bucket holding `time_ms`.
    ///
    /// # Errors
    /// [`DelayStoreError::TimeOutOfRange`] for negative times or ids beyond `u32`.
    pub fn bucket_of(&self, time_ms: i64) -> Result<BucketId, DelayStoreError> {
        let out_of_range = || DelayStoreError::TimeOutOfRange {
            time_ms,
            bucket_len_ms: self.len_ms,
        };
        if time_ms < 0 {
            return Err(out_of_range());
        }
        u32::try_from(time_ms / self.len_ms)
            .map(BucketId)
            .map_err(|_| out_of_range())
    }

    /// First millisecond of `id`.
    pub fn start_ms(&self, id: BucketId) -> i64 {
        i64::from(id.0) * self.len_ms
    }

    /// First millisecond after `id`.
    pub fn end_ms(&self, id: BucketId) -> i64 {
        (i64::from(id.0) + 1) * self.len_ms
    }

    /// File name (without extension) of `id`'s logs.
    pub(crate) fn file_stem(&self, id: BucketId) -> String {
        format!("{:020}", self.start_ms(id))
    }

    /// The bucket a file stem names, if it is a 20-digit start aligned to this layout.
    pub(crate) fn parse_stem(&self, stem: &str) -> Option<BucketId> {
        if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let start: i64 = stem.parse().ok()?;
        if start % self.len_ms != 0 {
            return None;
        }
        self.bucket_of(start).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_and_names_roundtrip() {
        let layout = BucketLayout::new(3_600_000).expect("layout");
        let t = 1_700_000_123_456;
        let id = layout.bucket_of(t).expect("bucket");
        assert!(layout.start_ms(id) <= t && t < layout.end_ms(id));
        assert_eq!(layout.start_ms(id) % 3_600_000, 0);
        let stem = layout.file_stem(id);
        assert_eq!(stem.len(), 20);
        assert_eq!(layout.parse_stem(&stem), Some(id));
        assert_eq!(layout.parse_stem("00000000000000000001"), None);
        assert_eq!(layout.parse_stem("abc"), None);
    }

    #[test]
    fn out_of_range_times_and_short_buckets_are_rejected() {
        assert!(BucketLayout::new(1_000).is_err());
        let layout = BucketLayout::new(60_000).expect("layout");
        assert!(layout.bucket_of(-1).is_err());
        assert!(layout.bucket_of(i64::MAX).is_err());
    }
}
