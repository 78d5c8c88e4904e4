//! Errors of the wire codec. They carry byte offsets and field names, never domain types.

/// Why bytes could not be decoded as a QMQ frame or command body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame did not start with `0xDEC10ADE` at offset 6.
    #[error("bad magic {found:#010x} (expected 0xdec10ade)")]
    BadMagic {
        /// The four bytes found where the magic belongs.
        found: u32,
    },
    /// The header size field was not 18; Java peers would desynchronise.
    #[error("header size {found} (expected 18)")]
    BadHeaderSize {
        /// The header size announced by the frame.
        found: i16,
    },
    /// The total length announced by the frame is smaller than its header.
    #[error("frame length {length} is shorter than the 20-byte header")]
    FrameTooShort {
        /// The length field of the frame.
        length: i64,
    },
    /// The frame is larger than the configured maximum.
    #[error("frame of {length} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// The length field of the frame.
        length: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A field runs past the end of the bytes it was read from.
    #[error("truncated {field} at offset {offset}: needs {needed} bytes, {available} available")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Offset of the field in the body.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A length prefix was negative.
    #[error("negative length {length} for {field} at offset {offset}")]
    NegativeLength {
        /// The field being read.
        field: &'static str,
        /// Offset of the length prefix.
        offset: usize,
        /// The length found.
        length: i64,
    },
    /// A string field was not valid UTF-8.
    #[error("invalid UTF-8 in {field} at offset {offset}")]
    InvalidUtf8 {
        /// The field being read.
        field: &'static str,
        /// Offset of the string bytes.
        offset: usize,
    },
    /// An enumerated field held a value the protocol does not define.
    #[error("unknown {field} value {value}")]
    UnknownValue {
        /// The field being read.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// A string is longer than the 32767 bytes an `i16` length can express.
    #[error("{field} is {length} bytes long; the wire limit is 32767")]
    StringTooLong {
        /// The field being written.
        field: &'static str,
        /// Its length in bytes.
        length: usize,
    },
    /// A list holds more entries than its count prefix can express.
    #[error("{field} has {count} entries; the limit is {max}")]
    TooManyEntries {
        /// The list.
        field: &'static str,
        /// Its size.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes were left over after a body that must be consumed exactly.
    #[error("{count} unexpected trailing bytes after {field}")]
    TrailingBytes {
        /// What was decoded.
        field: &'static str,
        /// How many bytes were left.
        count: usize,
    },
}
