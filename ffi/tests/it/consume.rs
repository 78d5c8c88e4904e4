//! Pull + ack and the listener through the ABI.

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use qmq_ffi::client::Client;
use qmq_ffi::delivered::{
    Delivered, qmq_delivered_ack, qmq_delivered_free, qmq_delivered_get_property,
    qmq_delivered_tags_count, qmq_delivered_tags_get, qmq_delivered_times,
};
use qmq_ffi::error::{ErrorCode, qmq_error_code, qmq_error_free};
use qmq_ffi::message::qmq_message_add_tag;
use qmq_ffi::producer::{qmq_producer_flush, qmq_producer_send};
use qmq_ffi::pull::{
    PullConsumer, qmq_pull_consumer_close, qmq_pull_consumer_free, qmq_pull_consumer_new,
    qmq_pull_consumer_pull,
};
use qmq_ffi::subscription::{qmq_consumer_subscribe, qmq_subscription_free, qmq_subscription_stop};

use crate::support::{
    TestServer, borrowed, close_client, code, eventually, free_message, new_client, new_message,
    ok, s,
};

const WARM_UP: &str = "warm-up";

fn send(client: *const Client, subject: &str, body: &str, tag: Option<&str>) {
    let msg = new_message(client, subject, body);
    // SAFETY: live handles.
    unsafe {
        if let Some(tag) = tag {
            let (t, tl) = s(tag);
            ok(qmq_message_add_tag(msg, t, tl));
        }
        ok(qmq_producer_send(client, msg, null_mut(), None));
    }
    free_message(msg);
}

fn body(msg: *const Delivered) -> Option<String> {
    let (k, kl) = s("body");
    let (mut p, mut n) = (null(), 0usize);
    // SAFETY: live (owned or borrowed) message; valid outs.
    ok(unsafe { qmq_delivered_get_property(msg, k, kl, &mut p, &mut n) });
    borrowed(p, n)
}

/// Pulls once; returns the messages (owned by the caller).
fn pull(pc: *const PullConsumer, max: usize, timeout_ms: u64) -> Vec<*mut Delivered> {
    let mut slots = vec![null_mut(); max];
    let mut n = 0usize;
    // SAFETY: live consumer; `slots` holds `max` pointers.
    ok(unsafe { qmq_pull_consumer_pull(pc, slots.as_mut_ptr(), max, timeout_ms, &mut n) });
    slots.truncate(n);
    slots
}

fn ack_and_free(msg: *mut Delivered) {
    // SAFETY: an owned message from `pull`, freed once.
    unsafe {
        ok(qmq_delivered_ack(msg, true, null(), 0));
        qmq_delivered_free(msg);
    }
}

#[test]
fn pulled_messages_carry_properties_and_tags_and_are_acked_once() {
    let server = TestServer::start();
    let client = new_client(&server.meta_url());
    let subject = "ffi.pull";
    let (sp, sl) = s(subject);
    let (g, gl) = s("g");
    let mut pc = null_mut();
    // SAFETY: live client, valid strings.
    ok(unsafe { qmq_pull_consumer_new(client, sp, sl, g, gl, null(), &mut pc) });
    let mut warm = false;
    for _ in 0..100 {
        send(client, subject, WARM_UP, None);
        for m in pull(pc, 10, 300) {
            warm |= body(m).as_deref() == Some(WARM_UP);
            ack_and_free(m);
        }
        if warm {
            break;
        }
    }
    assert!(warm, "the group registered");
    for i in 0..10 {
        send(client, subject, &i.to_string(), Some("t1"));
    }
    let mut got = Vec::new();
    assert!(eventually(Duration::from_secs(15), || {
        for m in pull(pc, 10, 200) {
            match body(m) {
                Some(b) if b != WARM_UP => {
                    let mut n = 0usize;
                    let (mut p, mut len) = (null(), 0usize);
                    let mut times = 0u32;
                    // SAFETY: an owned message; valid outs.
                    unsafe {
                        ok(qmq_delivered_tags_count(m, &mut n));
                        assert_eq!(n, 1);
                        ok(qmq_delivered_tags_get(m, 0, &mut p, &mut len));
                        assert_eq!(borrowed(p, len).as_deref(), Some("t1"));
                        ok(qmq_delivered_times(m, &mut times));
                        assert_eq!(times, 1);
                        ok(qmq_delivered_ack(m, true, null(), 0));
                        assert_eq!(
                            code(qmq_delivered_ack(m, false, null(), 0)),
                            ErrorCode::AlreadyAcked
                        );
                        qmq_delivered_free(m);
                    }
                    got.push(b.parse::<u32>().expect("number"));
                }
                _ => ack_and_free(m),
            }
        }
        got.len() >= 10
    }));
    got.sort_unstable();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    // SAFETY: live consumer; closed then freed once.
    unsafe {
        ok(qmq_pull_consumer_close(pc));
        let mut n = 0usize;
        assert_eq!(
            code(qmq_pull_consumer_pull(pc, null_mut(), 0, 0, &mut n)),
            ErrorCode::Closed
        );
        qmq_pull_consumer_free(pc);
    }
    close_client(client);
}

/// What the listener's handler shares with the test.
struct Listener {
    client: *const Client,
    calls: AtomicU32,
    bodies: Mutex<Vec<(String, u32)>>,
    refused_blocking: AtomicU32,
    refused_ack: AtomicU32,
    failed_once: AtomicU32,
    freed: AtomicU32,
}

unsafe extern "C" fn handle(user_data: *mut c_void, msg: *const Delivered) -> i32 {
    // SAFETY: `user_data` is the test's `Listener`, alive until `freed` is set; `msg` is
    // borrowed for this call.
    unsafe {
        let l = &*(user_data as *const Listener);
        l.calls.fetch_add(1, Ordering::SeqCst);
        let err = qmq_producer_flush(l.client, 10);
        if qmq_error_code(err) == ErrorCode::BlockingInCallback {
            l.refused_blocking.fetch_add(1, Ordering::SeqCst);
        }
        qmq_error_free(err);
        let err = qmq_delivered_ack(msg, true, null(), 0);
        if qmq_error_code(err) == ErrorCode::AlreadyAcked {
            l.refused_ack.fetch_add(1, Ordering::SeqCst);
        }
        qmq_error_free(err);
        let b = body(msg).unwrap_or_default();
        let mut times = 0u32;
        ok(qmq_delivered_times(msg, &mut times));
        l.bodies.lock().expect("lock").push((b.clone(), times));
        if b == "retry" && l.failed_once.fetch_add(1, Ordering::SeqCst) == 0 {
            return 1;
        }
        0
    }
}

unsafe extern "C" fn free_listener(user_data: *mut c_void) {
    // SAFETY: the test's `Listener`, still alive (leaked).
    let l = unsafe { &*(user_data as *const Listener) };
    l.freed.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn a_listener_acks_by_return_value_retries_failures_and_frees_its_user_data_once() {
    let server = TestServer::start();
    let client = new_client(&server.meta_url());
    let listener: &'static Listener = Box::leak(Box::new(Listener {
        client,
        calls: AtomicU32::new(0),
        bodies: Mutex::new(Vec::new()),
        refused_blocking: AtomicU32::new(0),
        refused_ack: AtomicU32::new(0),
        failed_once: AtomicU32::new(0),
        freed: AtomicU32::new(0),
    }));
    let subject = "ffi.listen";
    let (sp, sl) = s(subject);
    let (g, gl) = s("g");
    let mut opts = qmq_ffi::options::qmq_consume_options_default();
    opts.concurrency = 2;
    let mut sub = null_mut();
    // SAFETY: live client; `listener` is leaked so it outlives every call.
    ok(unsafe {
        qmq_consumer_subscribe(
            client,
            sp,
            sl,
            g,
            gl,
            &opts,
            Some(handle),
            listener as *const Listener as *mut c_void,
            Some(free_listener),
            &mut sub,
        )
    });
    let seen = |b: &str| {
        listener
            .bodies
            .lock()
            .expect("lock")
            .iter()
            .any(|(x, _)| x == b)
    };
    let mut warm = false;
    for _ in 0..50 {
        send(client, subject, WARM_UP, None);
        if eventually(Duration::from_millis(300), || seen(WARM_UP)) {
            warm = true;
            break;
        }
    }
    assert!(warm, "the group registered");
    for i in 0..10 {
        send(client, subject, &i.to_string(), None);
    }
    send(client, subject, "retry", None);
    assert!(eventually(Duration::from_secs(20), || {
        let bodies = listener.bodies.lock().expect("lock");
        (0..10).all(|i| bodies.iter().any(|(b, _)| *b == i.to_string()))
            && bodies.iter().any(|(b, times)| b == "retry" && *times >= 2)
    }));
    let calls = listener.calls.load(Ordering::SeqCst);
    assert_eq!(listener.refused_blocking.load(Ordering::SeqCst), calls);
    assert_eq!(listener.refused_ack.load(Ordering::SeqCst), calls);
    // SAFETY: live subscription; stopped then freed once.
    unsafe {
        ok(qmq_subscription_stop(sub, 15_000));
        ok(qmq_subscription_stop(sub, 15_000));
        qmq_subscription_free(sub);
    }
    assert!(eventually(Duration::from_secs(5), || listener
        .freed
        .load(Ordering::SeqCst)
        == 1));
    close_client(client);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(listener.freed.load(Ordering::SeqCst), 1);
}

#[test]
fn a_failed_subscribe_does_not_free_the_user_data() {
    let client = new_client("http://127.0.0.1:9/meta/address");
    let listener: &'static Listener = Box::leak(Box::new(Listener {
        client,
        calls: AtomicU32::new(0),
        bodies: Mutex::new(Vec::new()),
        refused_blocking: AtomicU32::new(0),
        refused_ack: AtomicU32::new(0),
        failed_once: AtomicU32::new(0),
        freed: AtomicU32::new(0),
    }));
    let (sp, sl) = s("ffi.sub.bad");
    let (g, gl) = s("bad group");
    let mut sub = null_mut();
    // SAFETY: live client; the listener is leaked.
    let err = unsafe {
        qmq_consumer_subscribe(
            client,
            sp,
            sl,
            g,
            gl,
            null(),
            Some(handle),
            listener as *const Listener as *mut c_void,
            Some(free_listener),
            &mut sub,
        )
    };
    assert_eq!(code(err), ErrorCode::InvalidMessage);
    assert!(sub.is_null());
    close_client(client);
    assert_eq!(listener.freed.load(Ordering::SeqCst), 0);
}
