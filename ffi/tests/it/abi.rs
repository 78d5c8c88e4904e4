//! Version, error objects and the panic guard.

use qmq_ffi::QMQ_ABI_VERSION;
use qmq_ffi::error::{
    ErrorCode, qmq_error_clone, qmq_error_code, qmq_error_free, qmq_error_is_retriable,
    qmq_error_message,
};
use qmq_ffi::qmq_abi_version;
use qmq_ffi::testing::{qmq_testing_error, qmq_testing_panic};

use crate::support::{code, message};

#[test]
fn abi_version_matches_the_checked_in_header() {
    assert_eq!(qmq_abi_version(), QMQ_ABI_VERSION);
    let header = include_str!("../../../include/qmq.h");
    assert!(header.contains(&format!("#define QMQ_ABI_VERSION {QMQ_ABI_VERSION}\n")));
}

#[test]
fn null_error_reads_as_ok_and_frees_safely() {
    let mut len = 7usize;
    // SAFETY: NULL is allowed everywhere here.
    unsafe {
        assert_eq!(qmq_error_code(std::ptr::null()), ErrorCode::Ok);
        assert!(!qmq_error_is_retriable(std::ptr::null()));
        let p = qmq_error_message(std::ptr::null(), &mut len);
        assert!(!p.is_null());
        assert_eq!(len, 0);
        assert!(qmq_error_clone(std::ptr::null()).is_null());
        qmq_error_free(std::ptr::null_mut());
    }
}

#[test]
fn a_panic_inside_an_export_becomes_a_panic_error() {
    let err = qmq_testing_panic();
    assert!(
        message(err).contains("qmq_testing_panic"),
        "{}",
        message(err)
    );
    assert_eq!(code(err), ErrorCode::Panic);
}

#[test]
fn error_objects_carry_code_retriable_flag_and_a_nul_terminated_message() {
    let err = qmq_testing_error(ErrorCode::QueueFull as i32, true);
    // SAFETY: `err` is an owned error; the clone is freed separately.
    unsafe {
        assert_eq!(qmq_error_code(err), ErrorCode::QueueFull);
        assert!(qmq_error_is_retriable(err));
        let mut len = 0usize;
        let p = qmq_error_message(err, &mut len);
        assert_eq!(*p.add(len), 0, "NUL-terminated");
        let copy = qmq_error_clone(err);
        qmq_error_free(err);
        assert_eq!(qmq_error_code(copy), ErrorCode::QueueFull);
        qmq_error_free(copy);
    }
    assert_eq!(code(qmq_testing_error(12345, false)), ErrorCode::Internal);
}
