//! The C ABI driven through the rlib, against a real in-process standalone server.

mod abi;
mod bad_input;
mod consume;
mod log_sink;
mod send;
mod support;
