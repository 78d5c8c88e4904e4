//! Integration tests against the real `qmq-server` binary on ephemeral ports.

mod bad_input;
mod broker_e2e;
mod delay_e2e;
mod meta_e2e;
mod restart;
mod roles_e2e;
#[allow(dead_code)]
mod support;
mod watchdog_e2e;
