//! The `qmq` binary against an in-process standalone server.

mod bad_args;
mod bench;
mod send_consume;
mod support;
