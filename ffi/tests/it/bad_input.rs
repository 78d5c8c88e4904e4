//! NULL handles, closed handles, invalid UTF-8, over-long values, misuse: always an error
//! object, never a crash.

use std::ptr::{null, null_mut};

use qmq_ffi::client::{qmq_client_close, qmq_client_free, qmq_client_new};
use qmq_ffi::delivered::{qmq_delivered_ack, qmq_delivered_free, qmq_delivered_subject};
use qmq_ffi::error::ErrorCode;
use qmq_ffi::message::{
    qmq_message_add_tag, qmq_message_get_property, qmq_message_id, qmq_message_new,
    qmq_message_set_delay_until, qmq_message_set_property, qmq_message_subject,
    qmq_message_tags_count, qmq_message_tags_get,
};
use qmq_ffi::options::{ConsumeOptions, Str, qmq_consume_options_default};
use qmq_ffi::producer::{qmq_producer_flush, qmq_producer_send};
use qmq_ffi::pull::{
    qmq_pull_consumer_close, qmq_pull_consumer_free, qmq_pull_consumer_new, qmq_pull_consumer_pull,
};
use qmq_ffi::subscription::{qmq_consumer_subscribe, qmq_subscription_free, qmq_subscription_stop};

use crate::support::{borrowed, code, free_message, message, new_client, new_message, s};

/// A meta URL nobody listens on: clients are created without contacting it.
const NOWHERE: &str = "http://127.0.0.1:9/meta/address";

#[test]
fn null_handles_and_out_pointers_are_invalid_arguments() {
    let (subj, subj_len) = s("subject");
    let mut out_ptr = null();
    let mut out_len = 0usize;
    let mut n = 0usize;
    // SAFETY: every pointer is NULL or valid; the library must reject the NULLs.
    unsafe {
        let mut client = null_mut();
        assert_eq!(
            code(qmq_client_new(null(), 5, subj, subj_len, &mut client)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_client_new(subj, subj_len, subj, subj_len, null_mut())),
            ErrorCode::InvalidArgument
        );
        assert!(client.is_null(), "out untouched on error");
        assert_eq!(
            code(qmq_client_close(null(), 10)),
            ErrorCode::InvalidArgument
        );
        qmq_client_free(null_mut());
        let mut msg = null_mut();
        assert_eq!(
            code(qmq_message_new(null(), subj, subj_len, &mut msg)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_message_set_property(
                null_mut(),
                subj,
                subj_len,
                subj,
                subj_len
            )),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_message_get_property(
                null(),
                subj,
                subj_len,
                &mut out_ptr,
                &mut out_len
            )),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_message_add_tag(null_mut(), subj, subj_len)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_message_tags_count(null(), &mut n)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_message_subject(null(), &mut out_ptr, &mut out_len)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_producer_send(null(), null_mut(), null_mut(), None)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_producer_flush(null(), 10)),
            ErrorCode::InvalidArgument
        );
        let mut pc = null_mut();
        assert_eq!(
            code(qmq_pull_consumer_new(
                null(),
                subj,
                subj_len,
                subj,
                subj_len,
                null(),
                &mut pc
            )),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_pull_consumer_pull(null(), null_mut(), 0, 0, &mut n)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_pull_consumer_close(null())),
            ErrorCode::InvalidArgument
        );
        qmq_pull_consumer_free(null_mut());
        assert_eq!(
            code(qmq_delivered_subject(null(), &mut out_ptr, &mut out_len)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_delivered_ack(null(), true, null(), 0)),
            ErrorCode::InvalidArgument
        );
        qmq_delivered_free(null_mut());
        let mut sub = null_mut();
        assert_eq!(
            code(qmq_consumer_subscribe(
                null(),
                subj,
                subj_len,
                subj,
                subj_len,
                null(),
                None,
                null_mut(),
                None,
                &mut sub
            )),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_subscription_stop(null(), 10)),
            ErrorCode::InvalidArgument
        );
        qmq_subscription_free(null_mut());
    }
}

#[test]
fn invalid_utf8_and_bad_values_are_rejected_with_their_codes() {
    let client = new_client(NOWHERE);
    let bad = [b'o', 0xff, b'k'];
    let msg = new_message(client, "ffi.bad", "x");
    // SAFETY: live handles, valid pointers and lengths.
    unsafe {
        let mut m2 = null_mut();
        assert_eq!(
            code(qmq_message_new(
                client,
                bad.as_ptr().cast(),
                bad.len(),
                &mut m2
            )),
            ErrorCode::InvalidUtf8
        );
        let (sp, sl) = s("has space");
        assert_eq!(
            code(qmq_message_new(client, sp, sl, &mut m2)),
            ErrorCode::InvalidMessage
        );
        assert!(m2.is_null());
        let (k, kl) = s("k");
        assert_eq!(
            code(qmq_message_set_property(
                msg,
                k,
                kl,
                bad.as_ptr().cast(),
                bad.len()
            )),
            ErrorCode::InvalidUtf8
        );
        let big = "x".repeat(40_000);
        let (v, vl) = s(&big);
        let err = qmq_message_set_property(msg, k, kl, v, vl);
        assert!(
            message(err).contains("set_large_string"),
            "{}",
            message(err)
        );
        assert_eq!(code(err), ErrorCode::InvalidMessage);
        let (r, rl) = s("qmq_createTime");
        assert_eq!(
            code(qmq_message_set_property(msg, r, rl, k, kl)),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(qmq_message_add_tag(msg, null(), 0)),
            ErrorCode::InvalidMessage
        );
        assert_eq!(
            code(qmq_message_set_delay_until(msg, -5)),
            ErrorCode::InvalidMessage
        );
        let mut p = null();
        let mut n = 0usize;
        assert_eq!(
            code(qmq_message_tags_get(msg, 3, &mut p, &mut n)),
            ErrorCode::InvalidArgument
        );
        // A pointer with a length but no bytes.
        assert_eq!(
            code(qmq_message_set_property(msg, null(), 3, k, kl)),
            ErrorCode::InvalidArgument
        );
        // Absent property: NULL pointer.
        let (a, al) = s("absent");
        assert!(
            code(qmq_message_get_property(msg, a, al, &mut p, &mut n)) == ErrorCode::Ok
                && p.is_null()
        );
        // Bad options.
        let mut opts: ConsumeOptions = qmq_consume_options_default();
        opts.tag_type = 7;
        let mut pc = null_mut();
        let (g, gl) = s("group");
        let (subj, subj_len) = s("ffi.bad");
        assert_eq!(
            code(qmq_pull_consumer_new(
                client, subj, subj_len, g, gl, &opts, &mut pc
            )),
            ErrorCode::InvalidArgument
        );
        opts.tag_type = 1;
        let tags = [Str {
            ptr: bad.as_ptr().cast(),
            len: bad.len(),
        }];
        opts.tags = tags.as_ptr();
        opts.tags_len = 1;
        assert_eq!(
            code(qmq_pull_consumer_new(
                client, subj, subj_len, g, gl, &opts, &mut pc
            )),
            ErrorCode::InvalidUtf8
        );
        let (bg, bgl) = s("bad group");
        assert_eq!(
            code(qmq_pull_consumer_new(
                client,
                subj,
                subj_len,
                bg,
                bgl,
                null(),
                &mut pc
            )),
            ErrorCode::InvalidMessage
        );
        assert!(pc.is_null());
    }
    free_message(msg);
    crate::support::close_client(client);
}

#[test]
fn a_bad_meta_url_is_a_config_error() {
    let (u, ul) = s("ftp://nowhere");
    let (a, al) = s("app");
    let mut client = null_mut();
    // SAFETY: valid strings and out pointer.
    assert_eq!(
        code(unsafe { qmq_client_new(u, ul, a, al, &mut client) }),
        ErrorCode::Config
    );
    assert!(client.is_null());
}

#[test]
fn a_sent_message_is_spent_but_still_freed() {
    let client = new_client(NOWHERE);
    let msg = new_message(client, "ffi.spent", "x");
    let mut p = null();
    let mut n = 0usize;
    // SAFETY: live handles; `msg` stays allocated until freed below.
    unsafe {
        assert_eq!(code(qmq_message_id(msg, &mut p, &mut n)), ErrorCode::Ok);
        assert!(borrowed(p, n).is_some_and(|id| !id.is_empty()));
        assert_eq!(
            code(qmq_producer_send(client, msg, null_mut(), None)),
            ErrorCode::Ok
        );
        assert_eq!(
            code(qmq_message_id(msg, &mut p, &mut n)),
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            code(qmq_producer_send(client, msg, null_mut(), None)),
            ErrorCode::InvalidArgument
        );
    }
    free_message(msg);
    // SAFETY: live client, freed once.
    unsafe {
        let _ = code(qmq_client_close(client, 100));
        qmq_client_free(client);
    }
}

#[test]
fn a_closed_client_fails_every_operation_with_closed() {
    let client = new_client(NOWHERE);
    let msg = new_message(client, "ffi.closed", "x");
    // SAFETY: live handles.
    unsafe {
        assert_eq!(code(qmq_client_close(client, 1_000)), ErrorCode::Ok);
        assert_eq!(
            code(qmq_client_close(client, 1_000)),
            ErrorCode::Ok,
            "idempotent"
        );
        let (subj, sl) = s("ffi.closed");
        let mut m2 = null_mut();
        assert_eq!(
            code(qmq_message_new(client, subj, sl, &mut m2)),
            ErrorCode::Closed
        );
        assert_eq!(
            code(qmq_producer_send(client, msg, null_mut(), None)),
            ErrorCode::Closed
        );
        assert_eq!(code(qmq_producer_flush(client, 10)), ErrorCode::Closed);
        let mut pc = null_mut();
        let (g, gl) = s("g");
        assert_eq!(
            code(qmq_pull_consumer_new(
                client,
                subj,
                sl,
                g,
                gl,
                null(),
                &mut pc
            )),
            ErrorCode::Closed
        );
        let mut sub = null_mut();
        assert_eq!(
            code(qmq_consumer_subscribe(
                client,
                subj,
                sl,
                g,
                gl,
                null(),
                Some(never),
                null_mut(),
                None,
                &mut sub
            )),
            ErrorCode::Closed
        );
        // The message was not consumed by the failed send and can still be read.
        let mut p = null();
        let mut n = 0usize;
        assert_eq!(
            code(qmq_message_subject(msg, &mut p, &mut n)),
            ErrorCode::Ok
        );
        assert_eq!(borrowed(p, n).as_deref(), Some("ffi.closed"));
        qmq_client_free(client);
    }
    free_message(msg);
}

#[test]
fn a_pull_consumer_of_a_closed_client_reports_closed() {
    let client = new_client(NOWHERE);
    let (subj, sl) = s("ffi.pull.closed");
    let (g, gl) = s("g");
    let mut pc = null_mut();
    let mut slots = [null_mut(); 4];
    let mut n = 9usize;
    // SAFETY: live handles; `slots` holds 4 pointers.
    unsafe {
        assert_eq!(
            code(qmq_pull_consumer_new(
                client,
                subj,
                sl,
                g,
                gl,
                null(),
                &mut pc
            )),
            ErrorCode::Ok
        );
        assert_eq!(code(qmq_client_close(client, 1_000)), ErrorCode::Ok);
        qmq_client_free(client);
        assert_eq!(
            code(qmq_pull_consumer_pull(
                pc,
                slots.as_mut_ptr(),
                4,
                10,
                &mut n
            )),
            ErrorCode::Closed
        );
        assert_eq!(n, 0);
        assert_eq!(code(qmq_pull_consumer_close(pc)), ErrorCode::Ok);
        qmq_pull_consumer_free(pc);
    }
}

#[test]
fn blocking_calls_inside_a_runtime_are_refused_not_deadlocked() {
    let client = new_client(NOWHERE) as usize;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("rt");
    rt.block_on(async move {
        let client = client as *const qmq_ffi::client::Client;
        // SAFETY: live client.
        unsafe {
            assert_eq!(
                code(qmq_producer_flush(client, 10)),
                ErrorCode::BlockingInCallback
            );
            assert_eq!(
                code(qmq_client_close(client, 10)),
                ErrorCode::BlockingInCallback
            );
        }
    });
    crate::support::close_client(client as *mut _);
}

unsafe extern "C" fn never(
    _: *mut std::ffi::c_void,
    _: *const qmq_ffi::delivered::Delivered,
) -> i32 {
    unreachable!("never called")
}
