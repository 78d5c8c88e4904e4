//! Log forwarding: the host registers a sink with [`qmq_set_log_sink`] and receives the
//! library's `tracing` events.
//!
//! Invariants:
//! * nothing is installed until the host asks: the first `qmq_set_log_sink` with a callback
//!   installs a small `tracing` layer as the process's global subscriber (the library never
//!   does so by itself). If the process already has another global subscriber, the call fails
//!   with `QMQ_ERROR_CODE_LOG_SINK_UNAVAILABLE`;
//! * the sink is gated by an atomic flag and a lock: once `qmq_set_log_sink` returns, the
//!   previous callback is not running and will not be called again, so its user data may be
//!   released;
//! * a `QmqLogRecord` and its strings are valid only during the callback;
//! * the callback may run on any thread (including runtime workers) and must not block; events
//!   emitted by qmq functions called from inside the sink are dropped (no recursion); the sink
//!   must not call `qmq_set_log_sink` itself.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

use crate::error::{Error, ErrorCode};
use crate::guard::{UserData, run_ffi_safe};

/// Log levels, most severe first (`min_level` lets through this level and more severe ones).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors.
    Error = 1,
    /// Warnings.
    Warn = 2,
    /// Information.
    Info = 3,
    /// Debugging detail.
    Debug = 4,
    /// Very verbose tracing.
    Trace = 5,
}

/// One log event, borrowed for the duration of the sink callback. Strings are UTF-8 and not
/// NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LogRecord {
    /// A `QMQ_LOG_LEVEL_*` value.
    pub level: i32,
    /// The module that logged (e.g. `qmq_core::client::producer`).
    pub target: *const c_char,
    /// Length of `target` in bytes.
    pub target_len: usize,
    /// The message followed by its fields as ` key=value`.
    pub message: *const c_char,
    /// Length of `message` in bytes.
    pub message_len: usize,
}

/// A log sink callback.
pub type LogSink = Option<unsafe extern "C" fn(user_data: *mut c_void, record: *const LogRecord)>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, *const LogRecord),
    user_data: UserData,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MIN_LEVEL: AtomicI32 = AtomicI32::new(LogLevel::Info as i32);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn level_number(level: &Level) -> i32 {
    match *level {
        Level::ERROR => LogLevel::Error as i32,
        Level::WARN => LogLevel::Warn as i32,
        Level::INFO => LogLevel::Info as i32,
        Level::DEBUG => LogLevel::Debug as i32,
        Level::TRACE => LogLevel::Trace as i32,
    }
}

/// Forwards events to the registered sink.
struct SinkLayer;

impl<S: Subscriber> Layer<S> for SinkLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level filter changes at run time: ask every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        ACTIVE.load(Ordering::Acquire)
            && level_number(metadata.level()) <= MIN_LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if IN_SINK.with(Cell::get) || !ACTIVE.load(Ordering::Acquire) {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let meta = event.metadata();
        let record = LogRecord {
            level: level_number(meta.level()),
            target: meta.target().as_ptr().cast(),
            target_len: meta.target().len(),
            message: text.0.as_ptr().cast(),
            message_len: text.0.len(),
        };
        let guard = SINK.read().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = guard.as_ref() {
            IN_SINK.with(|f| f.set(true));
            // SAFETY: the host's registered sink and user data; `record` and its strings live
            // until the call returns, as documented. The read lock keeps the sink registered
            // for the whole call.
            unsafe { (sink.callback)(sink.user_data.0, &record) };
            IN_SINK.with(|f| f.set(false));
        }
    }
}

/// Formats `message` first, then ` key=value` for the other fields.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// Registers `sink` (called with `user_data`) for log events at `min_level`
/// (a `QMQ_LOG_LEVEL_*` value) or more severe; a `NULL` sink stops forwarding. Replaces any
/// earlier sink: when this returns, the earlier one is not running and never called again.
/// See the module rules (thread, no blocking, borrowed record).
///
/// # Errors
/// `QMQ_ERROR_CODE_INVALID_ARGUMENT` for a bad level, `QMQ_ERROR_CODE_LOG_SINK_UNAVAILABLE` if
/// another global `tracing` subscriber is installed in the process.
///
/// # Safety
/// `user_data` may be used by `sink` from any thread until the sink is replaced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qmq_set_log_sink(
    sink: LogSink,
    user_data: *mut c_void,
    min_level: i32,
) -> *mut Error {
    run_ffi_safe(|| {
        if !(LogLevel::Error as i32..=LogLevel::Trace as i32).contains(&min_level) {
            return Err(Error::invalid(format!(
                "min_level {min_level} is not a QMQ_LOG_LEVEL_* value"
            )));
        }
        let Some(callback) = sink else {
            ACTIVE.store(false, Ordering::Release);
            // Waits for running callbacks to return.
            *SINK.write().unwrap_or_else(|e| e.into_inner()) = None;
            return Ok(());
        };
        if !INSTALLED.load(Ordering::Acquire) {
            tracing_subscriber::registry()
                .with(SinkLayer)
                .try_init()
                .map_err(|e| {
                    Error::new(
                        ErrorCode::LogSinkUnavailable,
                        format!("cannot install the qmq log layer: {e}"),
                    )
                })?;
            INSTALLED.store(true, Ordering::Release);
        }
        {
            let mut slot = SINK.write().unwrap_or_else(|e| e.into_inner());
            *slot = Some(Sink {
                callback,
                user_data: UserData(user_data),
            });
        }
        MIN_LEVEL.store(min_level, Ordering::Relaxed);
        ACTIVE.store(true, Ordering::Release);
        Ok(())
    })
}
