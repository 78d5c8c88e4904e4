//! Primitive readers and writers: big-endian integers, `str16` strings and `bytes32` blobs
//! (spec §0). Every read checks the remaining length first, so a short buffer is an error,
//! never a panic.

use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;

/// The largest byte length a `str16` can carry.
pub const MAX_STR16_LEN: usize = i16::MAX as usize;

/// A cursor over a body being decoded. Offsets in errors are relative to the start of the slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    #[inline]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not yet consumed.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been consumed.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Takes the next `n` bytes.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] when fewer than `n` bytes are left.
    #[inline]
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(taken) => {
                self.pos += n;
                Ok(taken)
            }
            None => Err(self.truncated(field, n)),
        }
    }

    // Kept out of line so the happy path of every read stays a compare and a slice.
    #[cold]
    #[inline(never)]
    fn truncated(&self, field: &'static str, needed: usize) -> ProtocolError {
        ProtocolError::Truncated {
            field,
            offset: self.pos,
            needed,
            available: self.remaining(),
        }
    }

    /// How many entries to reserve for a list whose untrusted count prefix says `count`, when
    /// each entry takes at least `min_entry_len` bytes on the wire: never more than the bytes
    /// left could hold, so a tiny body cannot make the decoder allocate megabytes up front.
    #[inline]
    pub fn capacity_for(&self, count: usize, min_entry_len: usize) -> usize {
        count.min(self.remaining() / min_entry_len.max(1))
    }

    #[inline]
    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProtocolError> {
        let slice = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    /// Reads an `i8`.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] at the end of the input.
    #[inline]
    pub fn i8(&mut self, field: &'static str) -> Result<i8, ProtocolError> {
        Ok(i8::from_be_bytes(self.array(field)?))
    }

    /// Reads a one-byte boolean (any non-zero value is true, as in Java's `readBoolean`).
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] at the end of the input.
    #[inline]
    pub fn bool(&mut self, field: &'static str) -> Result<bool, ProtocolError> {
        Ok(self.i8(field)? != 0)
    }

    /// Reads a big-endian `i16`.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] at the end of the input.
    #[inline]
    pub fn i16(&mut self, field: &'static str) -> Result<i16, ProtocolError> {
        Ok(i16::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `i32`.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] at the end of the input.
    #[inline]
    pub fn i32(&mut self, field: &'static str) -> Result<i32, ProtocolError> {
        Ok(i32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian `i64`.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] at the end of the input.
    #[inline]
    pub fn i64(&mut self, field: &'static str) -> Result<i64, ProtocolError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// Reads the raw bytes of a `str16` (an `i16` length, then the bytes).
    ///
    /// # Errors
    /// [`ProtocolError::NegativeLength`] or [`ProtocolError::Truncated`].
    #[inline]
    pub fn str16_bytes(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let offset = self.pos;
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::NegativeLength {
            field,
            offset,
            length: i64::from(len),
        })?;
        self.bytes(len, field)
    }

    /// Reads a `str16` as a borrowed UTF-8 string.
    ///
    /// # Errors
    /// As [`Reader::str16_bytes`], plus [`ProtocolError::InvalidUtf8`].
    #[inline]
    pub fn str16_ref(&mut self, field: &'static str) -> Result<&'a str, ProtocolError> {
        let offset = self.pos + 2;
        let raw = self.str16_bytes(field)?;
        std::str::from_utf8(raw).map_err(|_| ProtocolError::InvalidUtf8 { field, offset })
    }

    /// Reads a `str16` into an owned string.
    ///
    /// # Errors
    /// As [`Reader::str16_ref`].
    #[inline]
    pub fn str16(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        self.str16_ref(field).map(str::to_owned)
    }

    /// Reads a `bytes32` blob (an `i32` length, then the bytes).
    ///
    /// # Errors
    /// [`ProtocolError::NegativeLength`] or [`ProtocolError::Truncated`].
    #[inline]
    pub fn bytes32(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let offset = self.pos;
        let len = self.i32(field)?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::NegativeLength {
            field,
            offset,
            length: i64::from(len),
        })?;
        self.bytes(len, field)
    }

    /// Fails when bytes are left over.
    ///
    /// # Errors
    /// [`ProtocolError::TrailingBytes`].
    pub fn finish(&self, field: &'static str) -> Result<(), ProtocolError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ProtocolError::TrailingBytes { field, count }),
        }
    }
}

/// Writes a `str16`. The caller has checked the length with [`check_str16`]; longer strings
/// are cut at 32767 bytes rather than written with a wrapped length.
pub fn put_str16(dst: &mut BytesMut, value: &str) {
    let bytes = value.as_bytes();
    let len = bytes.len().min(MAX_STR16_LEN);
    dst.put_i16(len as i16);
    dst.put_slice(&bytes[..len]);
}

/// Encoded size of a `str16`.
pub fn str16_len(value: &str) -> usize {
    2 + value.len().min(MAX_STR16_LEN)
}

/// Checks that a string fits a `str16`.
///
/// # Errors
/// [`ProtocolError::StringTooLong`] past 32767 bytes.
pub fn check_str16(field: &'static str, value: &str) -> Result<(), ProtocolError> {
    if value.len() > MAX_STR16_LEN {
        return Err(ProtocolError::StringTooLong {
            field,
            length: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_width_big_endian() {
        let bytes = [1u8, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.i8("a").unwrap(), 1);
        assert_eq!(r.i16("b").unwrap(), 2);
        assert_eq!(r.i32("c").unwrap(), 3);
        assert_eq!(r.i64("d").unwrap(), 4);
        assert!(r.is_empty());
    }

    #[test]
    fn short_input_is_truncated_error() {
        let mut r = Reader::new(&[0, 5, b'a']);
        assert_eq!(
            r.str16("s"),
            Err(ProtocolError::Truncated {
                field: "s",
                offset: 2,
                needed: 5,
                available: 1
            })
        );
    }

    #[test]
    fn negative_length_is_rejected() {
        let mut r = Reader::new(&[0xff, 0xff]);
        assert!(matches!(
            r.str16("s"),
            Err(ProtocolError::NegativeLength { length: -1, .. })
        ));
        let mut r = Reader::new(&[0x80, 0, 0, 0]);
        assert!(matches!(
            r.bytes32("b"),
            Err(ProtocolError::NegativeLength { .. })
        ));
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let mut r = Reader::new(&[0, 1, 0xff]);
        assert!(matches!(
            r.str16("s"),
            Err(ProtocolError::InvalidUtf8 { offset: 2, .. })
        ));
    }

    #[test]
    fn str16_roundtrip_and_limit() {
        let mut buf = BytesMut::new();
        put_str16(&mut buf, "héllo");
        assert_eq!(buf.len(), str16_len("héllo"));
        assert_eq!(Reader::new(&buf).str16("s").unwrap(), "héllo");
        assert!(check_str16("s", &"x".repeat(MAX_STR16_LEN)).is_ok());
        assert!(check_str16("s", &"x".repeat(MAX_STR16_LEN + 1)).is_err());
    }
}
