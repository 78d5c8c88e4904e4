//! The TCP frame (spec §1) and the command / response codes.
//!
//! ```text
//! 0      4          6       10     12        14       18     22           24
//! | total | headerSize=18 | magic | code | version | opaque | flag | requestCode | body… |
//! ```
//! `total` counts every byte after itself: `2 + 18 + body.len()`.
//!
//! Invariants: the magic is checked as soon as 10 bytes are buffered, before the frame is
//! complete; the announced length is checked against the configured maximum before any body
//! byte is awaited; a header size other than 18 is rejected because Java peers cannot resync.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::error::ProtocolError;

/// The magic number every frame carries at offset 6.
pub const MAGIC: u32 = 0xDEC1_0ADE;
/// The only header size QMQ peers understand.
pub const HEADER_SIZE: i16 = 18;
/// Bytes before the body: length, header size and the 18-byte header.
pub const FRAME_PREFIX_LEN: usize = 4 + 2 + HEADER_SIZE as usize;
/// Default upper bound for a whole frame (the Java decoder has none; we refuse to buffer more).
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Flag bit 0: the frame is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: the request expects no response.
pub const FLAG_ONE_WAY: i32 = 2;

/// Version of frames the Java client builds with `RemotingBuilder` (SEND, PULL, ACK, register).
pub const VERSION_9: i16 = 9;
/// Version with tags in the message header; raw Java headers default to it.
pub const VERSION_8: i16 = 8;
/// Version the Java delay server uses when it hands due messages to a broker.
pub const VERSION_7: i16 = 7;
/// The version this implementation sends by default.
pub const CURRENT_VERSION: i16 = VERSION_9;

/// Request command codes (spec §1). Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[non_exhaustive]
pub enum RequestCode {
    /// Producer → broker or delay server.
    SendMessage = 10,
    /// Consumer → broker.
    PullMessage = 11,
    /// Consumer → broker.
    AckRequest = 12,
    /// Slave → master replication.
    SyncLogRequest = 20,
    /// Slave → master checkpoint fetch.
    SyncCheckpointRequest = 21,
    /// Meta → broker offset reset.
    ConsumeManage = 25,
    /// Broker or delay server → meta.
    BrokerRegister = 30,
    /// Client → meta.
    ClientRegister = 35,
    /// Broker → meta at start-up.
    BrokerAcquireMeta = 40,
    /// Keep-alive (C# and C++ clients).
    Heartbeat = 100,
}

impl RequestCode {
    /// Maps a wire value to a known request code.
    pub fn from_i16(code: i16) -> Option<Self> {
        Some(match code {
            10 => Self::SendMessage,
            11 => Self::PullMessage,
            12 => Self::AckRequest,
            20 => Self::SyncLogRequest,
            21 => Self::SyncCheckpointRequest,
            25 => Self::ConsumeManage,
            30 => Self::BrokerRegister,
            35 => Self::ClientRegister,
            40 => Self::BrokerAcquireMeta,
            100 => Self::Heartbeat,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_i16(self) -> i16 {
        self as i16
    }
}

/// Response codes (spec §1). Discriminants are frozen wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[non_exhaustive]
pub enum ResponseCode {
    /// The request succeeded.
    Success = 0,
    /// The server has no processor for the request code.
    UnknownCode = 3,
    /// A pull found nothing (also the answer to bad pull parameters).
    NoMessage = 4,
    /// Processing failed or the body was malformed.
    BrokerError = 51,
    /// The server refuses the request in its current role.
    BrokerReject = 52,
    /// A parameter was invalid.
    ParamError = 53,
}

impl ResponseCode {
    /// Maps a wire value to a known response code.
    pub fn from_i16(code: i16) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            3 => Self::UnknownCode,
            4 => Self::NoMessage,
            51 => Self::BrokerError,
            52 => Self::BrokerReject,
            53 => Self::ParamError,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_i16(self) -> i16 {
        self as i16
    }
}

/// The 18-byte header after the length and header-size fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Request: command code; response: response code.
    pub code: i16,
    /// Protocol version (7, 8 or 9; see spec §1).
    pub version: i16,
    /// Request id, echoed by the response.
    pub opaque: i32,
    /// Bit 0 response, bit 1 one-way.
    pub flag: i32,
    /// Request: the command code (or −1 from raw Java headers); response: the request's code.
    pub request_code: i16,
}

impl Header {
    /// A request header as the Java `RemotingBuilder` makes it (`requestCode == code`).
    pub fn request(code: RequestCode, version: i16, opaque: i32) -> Self {
        Self {
            code: code.as_i16(),
            version,
            opaque,
            flag: 0,
            request_code: code.as_i16(),
        }
    }

    /// The response header to `request` carrying `code`: same opaque and version, response flag,
    /// `requestCode` = the request's code.
    pub fn response_to(request: &Header, code: ResponseCode) -> Self {
        Self {
            code: code.as_i16(),
            version: request.version,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            request_code: request.code,
        }
    }

    /// Whether this is a response.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// Whether the sender expects no response.
    pub fn is_one_way(&self) -> bool {
        self.flag & FLAG_ONE_WAY != 0
    }
}

/// A whole frame: header plus the undecoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The header.
    pub header: Header,
    /// The command-specific body.
    pub body: Bytes,
}

impl Frame {
    /// A frame with the given header and body.
    pub fn new(header: Header, body: impl Into<Bytes>) -> Self {
        Self {
            header,
            body: body.into(),
        }
    }

    /// A response to `request` with `code` and an empty body.
    pub fn empty_response(request: &Header, code: ResponseCode) -> Self {
        Self::new(Header::response_to(request, code), Bytes::new())
    }

    /// Total encoded size of this frame.
    pub fn encoded_len(&self) -> usize {
        FRAME_PREFIX_LEN + self.body.len()
    }

    /// Appends the encoded frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        encode_header(dst, &self.header, self.body.len());
        dst.put_slice(&self.body);
    }

    /// Decodes one frame from the start of `src` without consuming it.
    ///
    /// Returns `Ok(None)` when `src` holds only part of a frame, otherwise the frame and the bytes
    /// it used.
    ///
    /// # Errors
    /// Bad magic, a header size other than 18, a length below the header or above `max_frame_len`.
    pub fn decode(
        src: &[u8],
        max_frame_len: usize,
    ) -> Result<Option<(Frame, usize)>, ProtocolError> {
        let Some(total) = check_prefix(src, max_frame_len)? else {
            return Ok(None);
        };
        let header = read_header(src);
        let body = Bytes::copy_from_slice(&src[FRAME_PREFIX_LEN..total]);
        Ok(Some((Frame { header, body }, total)))
    }

    /// Splits one frame off the front of a read buffer without copying the body.
    ///
    /// Returns `Ok(None)` and leaves `src` untouched when the frame is incomplete.
    ///
    /// # Errors
    /// As [`Frame::decode`]; the buffer is then unusable and the connection should close.
    pub fn decode_from(
        src: &mut BytesMut,
        max_frame_len: usize,
    ) -> Result<Option<Frame>, ProtocolError> {
        let Some(total) = check_prefix(src, max_frame_len)? else {
            return Ok(None);
        };
        let header = read_header(src);
        let mut frame = src.split_to(total);
        frame.advance(FRAME_PREFIX_LEN);
        Ok(Some(Frame {
            header,
            body: frame.freeze(),
        }))
    }

    /// Bytes still missing before `src` holds a whole frame (0 when complete or undecidable).
    pub fn missing_bytes(src: &[u8]) -> usize {
        if src.len() < 4 {
            return FRAME_PREFIX_LEN - src.len();
        }
        let total = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize + 4;
        total.saturating_sub(src.len())
    }
}

/// Writes a frame prefix (length, header size, header) for a body of `body_len` bytes, so a
/// command can encode its body straight after it without an intermediate buffer.
pub fn encode_header(dst: &mut BytesMut, header: &Header, body_len: usize) {
    dst.reserve(FRAME_PREFIX_LEN + body_len);
    dst.put_u32((2 + HEADER_SIZE as usize + body_len) as u32);
    dst.put_i16(HEADER_SIZE);
    dst.put_u32(MAGIC);
    dst.put_i16(header.code);
    dst.put_i16(header.version);
    dst.put_i32(header.opaque);
    dst.put_i32(header.flag);
    dst.put_i16(header.request_code);
}

/// Validates the prefix; returns the whole frame length once it is buffered.
fn check_prefix(src: &[u8], max_frame_len: usize) -> Result<Option<usize>, ProtocolError> {
    if src.len() >= 10 {
        let found = u32::from_be_bytes([src[6], src[7], src[8], src[9]]);
        if found != MAGIC {
            return Err(ProtocolError::BadMagic { found });
        }
    }
    if src.len() < 4 {
        return Ok(None);
    }
    let length = i64::from(i32::from_be_bytes([src[0], src[1], src[2], src[3]]));
    if length < 2 + i64::from(HEADER_SIZE) {
        return Err(ProtocolError::FrameTooShort { length });
    }
    let total = length as usize + 4;
    if total > max_frame_len {
        return Err(ProtocolError::FrameTooLarge {
            length: total,
            max: max_frame_len,
        });
    }
    if src.len() >= 6 {
        let found = i16::from_be_bytes([src[4], src[5]]);
        if found != HEADER_SIZE {
            return Err(ProtocolError::BadHeaderSize { found });
        }
    }
    if src.len() < total {
        return Ok(None);
    }
    Ok(Some(total))
}

/// Reads the header of a prefix that `check_prefix` accepted.
fn read_header(src: &[u8]) -> Header {
    let i16_at = |at: usize| i16::from_be_bytes([src[at], src[at + 1]]);
    let i32_at = |at: usize| i32::from_be_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]]);
    Header {
        code: i16_at(10),
        version: i16_at(12),
        opaque: i32_at(14),
        flag: i32_at(18),
        request_code: i16_at(22),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Frame {
        Frame::new(
            Header::request(RequestCode::PullMessage, VERSION_9, 42),
            Bytes::from_static(b"body"),
        )
    }

    #[test]
    fn frame_roundtrip() {
        let frame = sample();
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        assert_eq!(buf.len(), frame.encoded_len());
        let (decoded, used) = Frame::decode(&buf, DEFAULT_MAX_FRAME_LEN).unwrap().unwrap();
        assert_eq!(decoded, frame);
        assert_eq!(used, buf.len());
        let mut stream = buf.clone();
        stream.extend_from_slice(&buf);
        assert_eq!(
            Frame::decode_from(&mut stream, DEFAULT_MAX_FRAME_LEN).unwrap(),
            Some(frame.clone())
        );
        assert_eq!(
            Frame::decode_from(&mut stream, DEFAULT_MAX_FRAME_LEN).unwrap(),
            Some(frame)
        );
        assert!(stream.is_empty());
    }

    #[test]
    fn every_truncation_is_incomplete_not_error() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf);
        for cut in 0..buf.len() {
            assert_eq!(
                Frame::decode(&buf[..cut], DEFAULT_MAX_FRAME_LEN).unwrap(),
                None,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bad_magic_is_detected_before_the_frame_completes() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf);
        buf[7] ^= 0xff;
        assert!(matches!(
            Frame::decode(&buf[..10], DEFAULT_MAX_FRAME_LEN),
            Err(ProtocolError::BadMagic { .. })
        ));
    }

    #[test]
    fn oversized_and_undersized_lengths_are_rejected() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf);
        assert!(matches!(
            Frame::decode(&buf[..4], 10),
            Err(ProtocolError::FrameTooLarge { max: 10, .. })
        ));
        let mut short = buf.clone();
        short[..4].copy_from_slice(&5u32.to_be_bytes());
        assert!(matches!(
            Frame::decode(&short, 1024),
            Err(ProtocolError::FrameTooShort { length: 5 })
        ));
        let mut negative = buf.clone();
        negative[..4].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            Frame::decode(&negative, 1024),
            Err(ProtocolError::FrameTooShort { .. })
        ));
    }

    #[test]
    fn header_size_other_than_18_is_rejected() {
        let mut buf = BytesMut::new();
        sample().encode(&mut buf);
        buf[5] = 17;
        assert!(matches!(
            Frame::decode(&buf, DEFAULT_MAX_FRAME_LEN),
            Err(ProtocolError::BadHeaderSize { found: 17 })
        ));
    }

    #[test]
    fn response_echoes_opaque_version_and_code() {
        let req = Header::request(RequestCode::SendMessage, VERSION_7, 9);
        let resp = Header::response_to(&req, ResponseCode::Success);
        assert!(resp.is_response());
        assert_eq!((resp.opaque, resp.version, resp.request_code), (9, 7, 10));
    }

    #[test]
    fn wire_codes_are_frozen() {
        let requests = [
            (RequestCode::SendMessage, 10),
            (RequestCode::PullMessage, 11),
            (RequestCode::AckRequest, 12),
            (RequestCode::SyncLogRequest, 20),
            (RequestCode::SyncCheckpointRequest, 21),
            (RequestCode::ConsumeManage, 25),
            (RequestCode::BrokerRegister, 30),
            (RequestCode::ClientRegister, 35),
            (RequestCode::BrokerAcquireMeta, 40),
            (RequestCode::Heartbeat, 100),
        ];
        for (code, value) in requests {
            assert_eq!(code.as_i16(), value);
            assert_eq!(RequestCode::from_i16(value), Some(code));
        }
        let responses = [
            (ResponseCode::Success, 0),
            (ResponseCode::UnknownCode, 3),
            (ResponseCode::NoMessage, 4),
            (ResponseCode::BrokerError, 51),
            (ResponseCode::BrokerReject, 52),
            (ResponseCode::ParamError, 53),
        ];
        for (code, value) in responses {
            assert_eq!(code.as_i16(), value);
            assert_eq!(ResponseCode::from_i16(value), Some(code));
        }
        assert_eq!(RequestCode::from_i16(99), None);
    }
}
