//! `qmq-server`: the meta, broker and delay roles of a QMQ-compatible message queue.
#![deny(unsafe_code)]
pub mod delay;
