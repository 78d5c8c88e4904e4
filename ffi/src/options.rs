//! `QmqConsumeOptions`: how a pull consumer or subscription consumes, as a `#[repr(C)]` struct
//! that becomes the core's `ConsumeOptions` in one conversion ([`to_core`]).
//!
//! Start from [`qmq_consume_options_default`] and change fields; a `NULL` options pointer
//! means the defaults. Fields are append-only; a change of layout bumps `QMQ_ABI_VERSION`.

use std::ffi::c_char;

use qmq_core::client::consumer::ConsumeOptions as CoreOptions;
use qmq_core::protocol::TagType as CoreTagType;

use crate::error::Error;
use crate::guard::{FfiResult, guard_or, str_arg};

/// A borrowed UTF-8 string: pointer + length (not NUL-terminated). Used in arrays.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Str {
    /// The bytes (`NULL` only with `len` 0).
    pub ptr: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

/// Values of `QmqConsumeOptions::tag_type`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagType {
    /// No tag filter (with tags given, treated as `OR`).
    None = 0,
    /// A message matches if it carries at least one of the tags.
    Or = 1,
    /// A message matches if it carries all of the tags.
    And = 2,
}

/// How a pull consumer or subscription consumes. Get the defaults from
/// [`qmq_consume_options_default`]. The tag strings are copied when the consumer is created.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ConsumeOptions {
    /// Server-side tag filter: an array of `tags_len` strings (`NULL` when `tags_len` is 0).
    pub tags: *const Str,
    /// Number of tags (at most 10).
    pub tags_len: usize,
    /// How tags combine: a `QMQ_TAG_TYPE_*` value. Default `QMQ_TAG_TYPE_OR`.
    pub tag_type: i32,
    /// Non-zero: broadcast (every client gets every message; the group may be empty).
    pub broadcast: u8,
    /// Non-zero: at-most-once (acked on receipt; failures are not retried).
    pub at_most_once: u8,
    /// Deliveries before a failed message goes to the dead-letter subject; 0 = the client
    /// default (32).
    pub max_retry: u32,
    /// Listener only: handlers running at once (1..=10000); 0 = the default (8).
    pub concurrency: u32,
}

/// The default options: no tags, `QMQ_TAG_TYPE_OR`, not broadcast, not at-most-once, default
/// retries and concurrency.
#[unsafe(no_mangle)]
pub extern "C" fn qmq_consume_options_default() -> ConsumeOptions {
    guard_or(DEFAULT, || DEFAULT)
}

const DEFAULT: ConsumeOptions = ConsumeOptions {
    tags: std::ptr::null(),
    tags_len: 0,
    tag_type: TagType::Or as i32,
    broadcast: 0,
    at_most_once: 0,
    max_retry: 0,
    concurrency: 0,
};

/// Converts (and copies) C options; `NULL` gives the defaults.
///
/// # Safety
/// `options` is `NULL` or points to a readable `ConsumeOptions` whose `tags` array holds
/// `tags_len` readable `Str`s.
pub(crate) unsafe fn to_core(options: *const ConsumeOptions) -> FfiResult<CoreOptions> {
    let mut out = CoreOptions::default();
    // SAFETY: NULL or readable by the caller's contract.
    let Some(options) = (unsafe { options.as_ref() }) else {
        return Ok(out);
    };
    if options.tags_len > 0 {
        if options.tags.is_null() {
            return Err(Error::invalid("options.tags is NULL with tags_len > 0"));
        }
        if options.tags_len > 1024 {
            return Err(Error::invalid(format!(
                "options.tags_len {} is too large",
                options.tags_len
            )));
        }
        // SAFETY: non-NULL; `tags_len` entries readable by the caller's contract.
        let tags = unsafe { std::slice::from_raw_parts(options.tags, options.tags_len) };
        for tag in tags {
            // SAFETY: each entry's pointer + length by the caller's contract.
            out.tags
                .push(unsafe { str_arg(tag.ptr, tag.len, "options.tags[i]") }?.to_owned());
        }
    }
    out.tag_type = match options.tag_type {
        0 => CoreTagType::NoTag,
        1 => CoreTagType::Or,
        2 => CoreTagType::And,
        other => {
            return Err(Error::invalid(format!(
                "options.tag_type {other} is not a QMQ_TAG_TYPE_* value"
            )));
        }
    };
    out.broadcast = options.broadcast != 0;
    out.at_most_once = options.at_most_once != 0;
    out.max_retry = (options.max_retry != 0).then_some(options.max_retry);
    if options.concurrency != 0 {
        out.concurrency = options.concurrency as usize;
    }
    Ok(out)
}
