//! Bad arguments give a clear error and a non-zero exit, before anything is sent.

use crate::support::{run, stderr};

fn fails_with(args: &[&str], needle: &str) {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = stderr(&out);
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
}

#[test]
fn bad_arguments_are_refused_with_a_message() {
    fails_with(&["bench", "--duration", "ten"], "--duration");
    fails_with(&["bench", "--duration", "10"], "no unit");
    fails_with(&["bench", "--producers", "0"], "--producers");
    fails_with(
        &[
            "send",
            "--subject",
            "s",
            "--delay",
            "1s",
            "--at",
            "1893553445000",
            "b",
        ],
        "--at",
    );
    fails_with(
        &["send", "--subject", "s", "--at", "tomorrow", "b"],
        "RFC 3339",
    );
    fails_with(
        &["send", "--subject", "s", "--prop", "novalue", "b"],
        "KEY=VALUE",
    );
    fails_with(&["send", "--subject", "s"], "BODY");
    fails_with(&["send", "--subject", "bad subject", "b"], "subject");
    fails_with(&["consume", "--subject", "s"], "--group");
    fails_with(
        &[
            "consume",
            "--subject",
            "s",
            "--group",
            "g",
            "--tag-type",
            "xor",
        ],
        "xor",
    );
    fails_with(
        &["send", "--meta", "not-a-url", "--subject", "s", "b"],
        "meta",
    );
    fails_with(&["frobnicate"], "frobnicate");
}
