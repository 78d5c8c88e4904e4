//! Sends complete exactly once: with a receipt, with an error on close, or with a panic error.

use std::ffi::c_void;
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use qmq_ffi::error::{Error, ErrorCode, qmq_error_code};
use qmq_ffi::producer::{
    SendResult, qmq_producer_flush, qmq_producer_send, qmq_send_result_attempts,
    qmq_send_result_broker_group, qmq_send_result_message_id,
};
use qmq_ffi::testing::qmq_testing_send_panic;

use crate::support::{
    TestServer, borrowed, close_client, eventually, free_message, new_client, new_message, ok,
};

/// One slot per message: how often its callback ran and what it saw.
struct Slot {
    calls: AtomicU32,
    outcome: Mutex<Option<Result<(String, String), ErrorCode>>>,
}

impl Slot {
    fn new() -> Self {
        Self {
            calls: AtomicU32::new(0),
            outcome: Mutex::new(None),
        }
    }
}

unsafe extern "C" fn on_sent(
    user_data: *mut c_void,
    result: *const SendResult,
    error: *const Error,
) {
    // SAFETY: `user_data` is a `Slot` the test keeps alive; `result`/`error` are borrowed for
    // this call.
    unsafe {
        let slot = &*(user_data as *const Slot);
        slot.calls.fetch_add(1, Ordering::SeqCst);
        let outcome = if result.is_null() {
            assert!(!error.is_null());
            Err(qmq_error_code(error))
        } else {
            assert!(error.is_null());
            let (mut p, mut n) = (null(), 0usize);
            ok(qmq_send_result_message_id(result, &mut p, &mut n));
            let id = borrowed(p, n).expect("id");
            ok(qmq_send_result_broker_group(result, &mut p, &mut n));
            let group = borrowed(p, n).expect("group");
            let mut attempts = 0u32;
            ok(qmq_send_result_attempts(result, &mut attempts));
            assert!(attempts >= 1);
            Ok((id, group))
        };
        *slot.outcome.lock().expect("lock") = Some(outcome);
    }
}

#[test]
fn every_accepted_send_calls_back_exactly_once_with_its_receipt() {
    let server = TestServer::start();
    let client = new_client(&server.meta_url());
    let slots: Vec<Slot> = (0..200).map(|_| Slot::new()).collect();
    let mut ids = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let msg = new_message(client, "ffi.send", &i.to_string());
        let (mut p, mut n) = (null(), 0usize);
        // SAFETY: live handles; the slot outlives the callback (flush below).
        unsafe {
            ok(qmq_ffi::message::qmq_message_id(msg, &mut p, &mut n));
            ids.push(borrowed(p, n).expect("id"));
            ok(qmq_producer_send(
                client,
                msg,
                slot as *const Slot as *mut c_void,
                Some(on_sent),
            ));
        }
        free_message(msg);
    }
    // SAFETY: live client.
    ok(unsafe { qmq_producer_flush(client, 30_000) });
    for (slot, id) in slots.iter().zip(&ids) {
        assert_eq!(slot.calls.load(Ordering::SeqCst), 1);
        match slot.outcome.lock().expect("lock").take() {
            Some(Ok((got, group))) => {
                assert_eq!(&got, id);
                assert!(!group.is_empty());
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    close_client(client);
    // Nothing fires twice after close.
    std::thread::sleep(Duration::from_millis(100));
    assert!(slots.iter().all(|s| s.calls.load(Ordering::SeqCst) == 1));
}

#[test]
fn sends_pending_at_close_complete_once_with_an_error() {
    // Nobody answers on this meta URL: sends stay pending until the client closes.
    let client = new_client("http://127.0.0.1:9/meta/address");
    let slots: &'static [Slot] = Box::leak((0..20).map(|_| Slot::new()).collect());
    for slot in slots {
        let msg = new_message(client, "ffi.pending", "x");
        // SAFETY: live handles; the slots are leaked, so they outlive every callback.
        ok(unsafe {
            qmq_producer_send(
                client,
                msg,
                slot as *const Slot as *mut c_void,
                Some(on_sent),
            )
        });
        free_message(msg);
    }
    // SAFETY: live client; freed once.
    unsafe {
        let err = qmq_ffi::client::qmq_client_close(client, 300);
        assert_eq!(crate::support::code(err), ErrorCode::Timeout);
        qmq_ffi::client::qmq_client_free(client);
    }
    assert!(eventually(Duration::from_secs(10), || slots
        .iter()
        .all(|s| s.calls.load(Ordering::SeqCst) >= 1)));
    std::thread::sleep(Duration::from_millis(100));
    for slot in slots {
        assert_eq!(slot.calls.load(Ordering::SeqCst), 1);
        let outcome = slot.outcome.lock().expect("lock").clone();
        assert!(matches!(outcome, Some(Err(_))), "{outcome:?}");
    }
}

#[test]
fn a_panic_while_completing_still_calls_back_once_with_a_panic_error() {
    let slot: &'static Slot = Box::leak(Box::new(Slot::new()));
    // SAFETY: the slot is leaked; the callback is a valid function.
    ok(unsafe { qmq_testing_send_panic(slot as *const Slot as *mut c_void, Some(on_sent)) });
    assert!(eventually(Duration::from_secs(5), || slot
        .calls
        .load(Ordering::SeqCst)
        == 1));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(slot.calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        *slot.outcome.lock().expect("lock"),
        Some(Err(ErrorCode::Panic))
    );
    // SAFETY: a NULL callback is rejected.
    let err = unsafe { qmq_testing_send_panic(null_mut(), None) };
    assert_eq!(crate::support::code(err), ErrorCode::InvalidArgument);
}

#[test]
fn queued_sends_pending_at_close_complete_once_with_an_error_in_the_queue() {
    use qmq_ffi::completions::{
        SendCompletion, qmq_completion_queue_free, qmq_completion_queue_new,
        qmq_completion_queue_next, qmq_producer_send_queued,
    };
    let client = new_client("http://127.0.0.1:9/meta/address");
    let mut queue = null_mut();
    // SAFETY: a valid out pointer.
    ok(unsafe { qmq_completion_queue_new(&mut queue) });
    for token in 0..20u64 {
        let msg = new_message(client, "ffi.queued.pending", "x");
        // SAFETY: live handles.
        ok(unsafe { qmq_producer_send_queued(client, msg, queue, token) });
        free_message(msg);
    }
    // SAFETY: live client; freed once.
    unsafe {
        let err = qmq_ffi::client::qmq_client_close(client, 300);
        assert_eq!(crate::support::code(err), ErrorCode::Timeout);
        qmq_ffi::client::qmq_client_free(client);
    }
    let mut seen = [0u32; 20];
    let empty = SendCompletion {
        token: 0,
        error: null(),
        message_id: null(),
        message_id_len: 0,
        broker_group: null(),
        broker_group_len: 0,
    };
    let mut batch = [empty; 8];
    let mut pulls = 0;
    while seen.contains(&0) && pulls < 100 {
        pulls += 1;
        let mut n = 0usize;
        // SAFETY: live queue; room for 8 entries.
        ok(unsafe { qmq_completion_queue_next(queue, batch.as_mut_ptr(), 8, 1000, &mut n) });
        for c in &batch[..n] {
            seen[usize::try_from(c.token).expect("token")] += 1;
            assert!(
                !c.error.is_null(),
                "a send that never reached a broker succeeded"
            );
        }
    }
    let mut n = 0usize;
    // SAFETY: as above.
    ok(unsafe { qmq_completion_queue_next(queue, batch.as_mut_ptr(), 8, 100, &mut n) });
    assert_eq!(n, 0, "a token completed twice");
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    // SAFETY: live queue, freed once.
    unsafe { qmq_completion_queue_free(queue) };
}
