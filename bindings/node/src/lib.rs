//! The native addon of the npm package `qmq`: a napi-rs bridge over `qmq-core`.
//!
//! What it owns: conversion of JS values to core types and back, the mapping of core errors to
//! JS errors (`errors`), and waiting for the core without blocking the event loop. Behaviour
//! (batching, retries, acks, filters) lives in `qmq-core`; argument validation and defaults
//! live in the JS package (`node/index.js`).
//!
//! Handles are `<Object>Ref` classes wrapped by the JS `Client`, `Producer` and `Consumer`;
//! they are internal and have no API stability.
//!
//! Invariants:
//! * nothing here blocks the JS thread: sends, pulls and closes are Promises settled from
//!   napi's tokio runtime; blocking core calls run on `spawn_blocking`;
//! * listener handlers run on the core's blocking pool, call JS through a `NonBlocking`
//!   `ThreadsafeFunction`, and wait (on that blocking thread) for the handler's Promise to
//!   settle, which JS reports by completing the `DeliveredRef` it was given;
//! * JS errors raised here carry a machine-readable prefix that `index.js` turns into typed
//!   errors (`errors::to_js`).
#![deny(unsafe_code)]

mod client;
mod consumer;
mod errors;
mod listener;
mod message;
mod producer;

/// The version of the native addon (the package checks it matches).
#[napi_derive::napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
