//! The log sink: installed on request, gated, records borrowed for the call.

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::Mutex;

use qmq_ffi::error::ErrorCode;
use qmq_ffi::log::{LogLevel, LogRecord, qmq_set_log_sink};

use crate::support::{borrowed, code, ok};

static SEEN: Mutex<Vec<(i32, String, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn sink(_: *mut c_void, record: *const LogRecord) {
    // SAFETY: the record and its strings are borrowed for this call.
    let r = unsafe { &*record };
    let target = borrowed(r.target, r.target_len).unwrap_or_default();
    let message = borrowed(r.message, r.message_len).unwrap_or_default();
    SEEN.lock().expect("lock").push((r.level, target, message));
}

fn seen(text: &str) -> Vec<i32> {
    SEEN.lock()
        .expect("lock")
        .iter()
        .filter(|(_, _, m)| m.contains(text))
        .map(|(l, _, _)| *l)
        .collect()
}

#[test]
fn events_reach_the_sink_at_its_level_until_it_is_removed() {
    // SAFETY: a valid callback; no user data.
    unsafe {
        assert_eq!(
            code(qmq_set_log_sink(Some(sink), null_mut(), 9)),
            ErrorCode::InvalidArgument
        );
        ok(qmq_set_log_sink(
            Some(sink),
            null_mut(),
            LogLevel::Info as i32,
        ));
    }
    tracing::info!(subject = "s1", "ffi log test one");
    tracing::debug!("ffi log test filtered");
    assert_eq!(seen("ffi log test one"), vec![LogLevel::Info as i32]);
    assert!(seen("subject=s1").len() == 1, "fields are appended");
    assert!(seen("ffi log test filtered").is_empty());
    // SAFETY: as above.
    unsafe {
        ok(qmq_set_log_sink(
            Some(sink),
            null_mut(),
            LogLevel::Debug as i32,
        ))
    };
    tracing::debug!("ffi log test two");
    assert_eq!(seen("ffi log test two"), vec![LogLevel::Debug as i32]);
    // SAFETY: removing the sink.
    unsafe { ok(qmq_set_log_sink(None, null_mut(), LogLevel::Info as i32)) };
    tracing::warn!("ffi log test three");
    assert!(seen("ffi log test three").is_empty());
}
