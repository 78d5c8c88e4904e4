//! Record framing shared by every delay-store file, and the torn-tail scan.
//!
//! Frame layout (big-endian), 13 header bytes then the body:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u32 | magic, one per file kind ([`WAL_MAGIC`], [`SCHEDULE_MAGIC`], [`DISPATCH_MAGIC`]) |
//! | 4 | u8  | format version, [`FORMAT_VERSION`] |
//! | 5 | u32 | body length, at most [`MAX_BODY_LEN`] |
//! | 9 | u32 | CRC-32 (IEEE) of bytes 4..9 and the body |
//! | 13 | … | body |
//!
//! Invariants worth naming:
//! - Files are append-only sequences of frames; a file never starts with a header.
//! - Recovery policy is "tolerate a corrupt tail": a bad frame with no valid frame anywhere after
//!   it is a torn tail and is cut off; a bad frame followed by a valid one is corruption and an
//!   error naming the file and offset.
//! - A frame whose CRC holds but whose version is unknown is an error, never skipped.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use tracing::warn;

use super::error::DelayStoreError;

/// Magic of message-log (WAL) frames: "QDW1".
pub(crate) const WAL_MAGIC: u32 = 0x5144_5731;
/// Magic of schedule-log frames: "QDS1".
pub(crate) const SCHEDULE_MAGIC: u32 = 0x5144_5331;
/// Magic of dispatch-log frames: "QDD1".
pub(crate) const DISPATCH_MAGIC: u32 = 0x5144_4431;
/// The only frame format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u8 = 1;
/// Frame header length in bytes.
pub(crate) const HEADER_LEN: usize = 13;
/// Largest body accepted; bounds allocations when reading a damaged length field.
pub(crate) const MAX_BODY_LEN: usize = 80 * 1024 * 1024;

/// Appends one frame holding `body` to `out`. The caller keeps `body` within [`MAX_BODY_LEN`].
pub(crate) fn encode(magic: u32, body: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    out.reserve(HEADER_LEN + body.len());
    out.extend_from_slice(&magic.to_be_bytes());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc(FORMAT_VERSION, len, body).to_be_bytes());
    out.extend_from_slice(body);
}

fn crc(version: u8, len: u32, body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[version]);
    h.update(&len.to_be_bytes());
    h.update(body);
    h.finalize()
}

struct Header {
    magic: u32,
    version: u8,
    len: u32,
    crc: u32,
}

fn parse_header(b: &[u8; HEADER_LEN]) -> Header {
    Header {
        magic: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        version: b[4],
        len: u32::from_be_bytes([b[5], b[6], b[7], b[8]]),
        crc: u32::from_be_bytes([b[9], b[10], b[11], b[12]]),
    }
}

/// Outcome of checking the frame at one position.
enum Check {
    /// A valid frame; the body has been read.
    Valid { version: u8 },
    /// Not a valid frame, with the reason.
    Bad(&'static str),
}

fn check_header(h: &Header, magic: u32, pos: u64, file_len: u64) -> Option<&'static str> {
    if h.magic != magic {
        return Some("bad magic");
    }
    let len = h.len as usize;
    if len > MAX_BODY_LEN {
        return Some("length above limit");
    }
    if pos + (HEADER_LEN + len) as u64 > file_len {
        return Some("frame extends past end of file");
    }
    None
}

fn check_body(h: &Header, body: &[u8]) -> Check {
    if crc(h.version, h.len, body) != h.crc {
        Check::Bad("checksum mismatch")
    } else {
        Check::Valid { version: h.version }
    }
}

/// Result of [`scan`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanEnd {
    /// Offset just past the last valid frame.
    pub end: u64,
    /// Length of the file when scanned; `end < file_len` means a torn tail.
    pub file_len: u64,
}

/// Reads every frame of `file` from `start`, calling `visit(offset, body)` for each valid one.
///
/// # Errors
/// I/O failures, [`DelayStoreError::Corrupt`] for a bad frame that is followed by a valid one,
/// [`DelayStoreError::UnsupportedVersion`], and whatever `visit` returns.
pub(crate) fn scan(
    file: &File,
    path: &Path,
    magic: u32,
    start: u64,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), DelayStoreError>,
) -> Result<ScanEnd, DelayStoreError> {
    let file_len = file
        .metadata()
        .map_err(|e| DelayStoreError::io("stat", path, e))?
        .len();
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| DelayStoreError::io("seek", path, e))?;
    let mut pos = start;
    let mut body = Vec::new();
    while pos < file_len {
        let bad = if file_len - pos < HEADER_LEN as u64 {
            "truncated header"
        } else {
            let mut hb = [0u8; HEADER_LEN];
            reader
                .read_exact(&mut hb)
                .map_err(|e| DelayStoreError::io("read", path, e))?;
            let h = parse_header(&hb);
            match check_header(&h, magic, pos, file_len) {
                Some(reason) => reason,
                None => {
                    body.resize(h.len as usize, 0);
                    reader
                        .read_exact(&mut body)
                        .map_err(|e| DelayStoreError::io("read", path, e))?;
                    match check_body(&h, &body) {
                        Check::Bad(reason) => reason,
                        Check::Valid { version } => {
                            if version != FORMAT_VERSION {
                                return Err(DelayStoreError::UnsupportedVersion {
                                    path: path.to_path_buf(),
                                    offset: pos,
                                    version,
                                });
                            }
                            visit(pos, &body)?;
                            pos += (HEADER_LEN + body.len()) as u64;
                            continue;
                        }
                    }
                }
            }
        };
        if valid_frame_after(file, path, magic, pos + 1, file_len)? {
            return Err(DelayStoreError::Corrupt {
                path: path.to_path_buf(),
                offset: pos,
                reason: bad,
            });
        }
        return Ok(ScanEnd { end: pos, file_len });
    }
    Ok(ScanEnd { end: pos, file_len })
}

/// Whether any valid frame starts at or after `from`.
fn valid_frame_after(
    file: &File,
    path: &Path,
    magic: u32,
    from: u64,
    file_len: u64,
) -> Result<bool, DelayStoreError> {
    let needle = magic.to_be_bytes();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut base = from;
    while base + (HEADER_LEN as u64) <= file_len {
        let want = usize::try_from((file_len - base).min(chunk.len() as u64)).unwrap_or(0);
        let buf = chunk.get_mut(..want).unwrap_or_default();
        file.read_exact_at(buf, base)
            .map_err(|e| DelayStoreError::io("read", path, e))?;
        for (i, w) in buf.windows(4).enumerate() {
            if w == needle && frame_valid_at(file, path, magic, base + i as u64, file_len)? {
                return Ok(true);
            }
        }
        // Overlap by 3 bytes so a magic split across chunks is still seen.
        base += (want.saturating_sub(3)).max(1) as u64;
    }
    Ok(false)
}

fn frame_valid_at(
    file: &File,
    path: &Path,
    magic: u32,
    pos: u64,
    file_len: u64,
) -> Result<bool, DelayStoreError> {
    if file_len - pos < HEADER_LEN as u64 {
        return Ok(false);
    }
    let mut hb = [0u8; HEADER_LEN];
    file.read_exact_at(&mut hb, pos)
        .map_err(|e| DelayStoreError::io("read", path, e))?;
    let h = parse_header(&hb);
    if check_header(&h, magic, pos, file_len).is_some() {
        return Ok(false);
    }
    let mut body = vec![0u8; h.len as usize];
    file.read_exact_at(&mut body, pos + HEADER_LEN as u64)
        .map_err(|e| DelayStoreError::io("read", path, e))?;
    Ok(matches!(check_body(&h, &body), Check::Valid { .. }))
}

/// Cuts a torn tail found by [`scan`] and fsyncs the file; no-op when there is none.
///
/// # Errors
/// I/O failures of `set_len` or `sync_all`.
pub(crate) fn truncate_torn_tail(
    file: &File,
    path: &Path,
    scanned: ScanEnd,
) -> Result<(), DelayStoreError> {
    if scanned.end >= scanned.file_len {
        return Ok(());
    }
    warn!(
        path = %path.display(),
        offset = scanned.end,
        dropped_bytes = scanned.file_len - scanned.end,
        "torn tail truncated"
    );
    file.set_len(scanned.end)
        .map_err(|e| DelayStoreError::io("truncate", path, e))?;
    file.sync_all()
        .map_err(|e| DelayStoreError::io("fsync", path, e))
}

/// Reads and verifies the frame of `size` bytes at `offset`, returning its body.
///
/// # Errors
/// I/O failures and [`DelayStoreError::Corrupt`] if the frame there is not valid.
pub(crate) fn read_at(
    file: &File,
    path: &Path,
    magic: u32,
    offset: u64,
    size: u32,
) -> Result<Vec<u8>, DelayStoreError> {
    let corrupt = |reason| DelayStoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason,
    };
    let size = size as usize;
    if size < HEADER_LEN || size - HEADER_LEN > MAX_BODY_LEN {
        return Err(corrupt("index size out of range"));
    }
    let mut buf = vec![0u8; size];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| DelayStoreError::io("read", path, e))?;
    let (hb, body) = buf.split_at(HEADER_LEN);
    let hb: [u8; HEADER_LEN] = hb.try_into().map_err(|_| corrupt("short header"))?;
    let h = parse_header(&hb);
    if h.magic != magic {
        return Err(corrupt("bad magic"));
    }
    if h.len as usize != body.len() {
        return Err(corrupt("length does not match index"));
    }
    if h.version != FORMAT_VERSION {
        return Err(DelayStoreError::UnsupportedVersion {
            path: path.to_path_buf(),
            offset,
            version: h.version,
        });
    }
    match check_body(&h, body) {
        Check::Valid { .. } => Ok(body.to_vec()),
        Check::Bad(reason) => Err(corrupt(reason)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_frames(path: &Path, bodies: &[&[u8]]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for b in bodies {
            offsets.push(out.len() as u64);
            encode(WAL_MAGIC, b, &mut out);
        }
        std::fs::write(path, &out).expect("write");
        offsets
    }

    type Frames = Vec<(u64, Vec<u8>)>;

    fn collect(path: &Path) -> Result<(Frames, ScanEnd), DelayStoreError> {
        let file = File::open(path).expect("open");
        let mut seen = Vec::new();
        let end = scan(&file, path, WAL_MAGIC, 0, |off, body| {
            seen.push((off, body.to_vec()));
            Ok(())
        })?;
        Ok((seen, end))
    }

    #[test]
    fn frames_roundtrip_and_read_at_verifies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let offsets = write_frames(&path, &[b"one", b"", b"three"]);
        let (seen, end) = collect(&path).expect("scan");
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[2], (offsets[2], b"three".to_vec()));
        assert_eq!(end.end, end.file_len);
        let file = File::open(&path).expect("open");
        let body =
            read_at(&file, &path, WAL_MAGIC, offsets[2], (HEADER_LEN + 5) as u32).expect("read_at");
        assert_eq!(body, b"three");
        assert!(read_at(&file, &path, SCHEDULE_MAGIC, offsets[2], 18).is_err());
    }

    #[test]
    fn torn_tail_at_every_cut_is_found_and_truncated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let offsets = write_frames(&path, &[b"alpha", b"bravo-bravo"]);
        let full = std::fs::read(&path).expect("read");
        for cut in (offsets[1] as usize + 1)..full.len() {
            std::fs::write(&path, &full[..cut]).expect("write");
            let (seen, end) = collect(&path).expect("scan");
            assert_eq!(seen.len(), 1, "cut at {cut}");
            assert_eq!(end.end, offsets[1]);
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open");
            truncate_torn_tail(&file, &path, end).expect("truncate");
            assert_eq!(std::fs::metadata(&path).expect("meta").len(), offsets[1]);
        }
    }

    #[test]
    fn garbage_tail_is_torn_but_bad_frame_before_valid_one_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let offsets = write_frames(&path, &[b"alpha", b"bravo", b"charlie"]);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(&[0xAB; 40]).expect("append garbage");
        drop(f);
        let (seen, end) = collect(&path).expect("garbage tail tolerated");
        assert_eq!(seen.len(), 3);
        assert!(end.end < end.file_len);

        let mut bytes = std::fs::read(&path).expect("read");
        bytes[offsets[1] as usize + HEADER_LEN] ^= 0xFF;
        std::fs::write(&path, &bytes).expect("write");
        match collect(&path) {
            Err(DelayStoreError::Corrupt { offset, .. }) => assert_eq!(offset, offsets[1]),
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn unknown_version_with_valid_checksum_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let body = b"future";
        let mut out = Vec::new();
        out.extend_from_slice(&WAL_MAGIC.to_be_bytes());
        out.push(9);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc(9, body.len() as u32, body).to_be_bytes());
        out.extend_from_slice(body);
        std::fs::write(&path, &out).expect("write");
        assert!(matches!(
            collect(&path),
            Err(DelayStoreError::UnsupportedVersion { version: 9, .. })
        ));
    }
}
