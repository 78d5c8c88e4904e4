//! Helpers: an in-process server on its own runtime (so the test thread stays outside any
//! runtime, like a C host's thread) and small wrappers over the ABI.

use std::ffi::c_char;
use std::time::{Duration, Instant};

use qmq_ffi::client::{Client, qmq_client_close, qmq_client_free, qmq_client_new};
use qmq_ffi::error::{Error, ErrorCode, qmq_error_code, qmq_error_free, qmq_error_message};
use qmq_ffi::message::{Message, qmq_message_free, qmq_message_new, qmq_message_set_property};
use qmq_server::standalone::{ServerConfig, StandaloneServer};
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// A standalone server on ephemeral ports, stopped on drop.
pub struct TestServer {
    rt: Runtime,
    server: Option<StandaloneServer>,
    _dir: TempDir,
}

impl TestServer {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServerConfig::for_tests(dir.path());
        config.broker.retry_delay_ms = 200;
        let server = rt
            .block_on(StandaloneServer::start(config))
            .expect("server starts");
        Self {
            rt,
            server: Some(server),
            _dir: dir,
        }
    }

    pub fn meta_url(&self) -> String {
        self.server.as_ref().expect("running").meta_url()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
    }
}

/// The code of `err` (freed here); `Ok` for NULL.
pub fn code(err: *mut Error) -> ErrorCode {
    // SAFETY: `err` is NULL or an owned error just returned by the library.
    let c = unsafe { qmq_error_code(err) };
    // SAFETY: as above; freed once.
    unsafe { qmq_error_free(err) };
    c
}

/// The message of `err` (not freed).
pub fn message(err: *const Error) -> String {
    let mut len = 0usize;
    // SAFETY: NULL or a live error; `len` is writable.
    let ptr = unsafe { qmq_error_message(err, &mut len) };
    // SAFETY: the library returns `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// Panics with the error's message unless `err` is NULL.
#[track_caller]
pub fn ok(err: *mut Error) {
    if !err.is_null() {
        let text = message(err);
        // SAFETY: owned error; freed once.
        let c = unsafe { qmq_error_code(err) };
        // SAFETY: as above.
        unsafe { qmq_error_free(err) };
        panic!("unexpected error {c:?}: {text}");
    }
}

/// `(ptr, len)` of a Rust string for the ABI.
pub fn s(v: &str) -> (*const c_char, usize) {
    (v.as_ptr().cast(), v.len())
}

/// A borrowed string result as a Rust string.
pub fn borrowed(ptr: *const c_char, len: usize) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the library returned `len` readable bytes at `ptr`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    Some(String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

/// A client for `meta_url`.
pub fn new_client(meta_url: &str) -> *mut Client {
    let (u, ul) = s(meta_url);
    let (a, al) = s("ffi-test");
    let mut out = std::ptr::null_mut();
    // SAFETY: valid strings and out pointer.
    ok(unsafe { qmq_client_new(u, ul, a, al, &mut out) });
    assert!(!out.is_null());
    out
}

/// Closes and frees a client.
pub fn close_client(client: *mut Client) {
    // SAFETY: a live client from `new_client`, freed once.
    unsafe {
        let _ = code(qmq_client_close(client, 5_000));
        qmq_client_free(client);
    }
}

/// A message for `subject` with property `body`.
pub fn new_message(client: *const Client, subject: &str, body: &str) -> *mut Message {
    let (sp, sl) = s(subject);
    let mut msg = std::ptr::null_mut();
    // SAFETY: live client, valid strings and out pointer.
    ok(unsafe { qmq_message_new(client, sp, sl, &mut msg) });
    let (k, kl) = s("body");
    let (v, vl) = s(body);
    // SAFETY: live message, valid strings.
    ok(unsafe { qmq_message_set_property(msg, k, kl, v, vl) });
    msg
}

/// Frees a message.
pub fn free_message(msg: *mut Message) {
    // SAFETY: a live message, freed once.
    unsafe { qmq_message_free(msg) };
}

/// Polls `cond` every 20 ms until it holds or `limit` passed.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}
