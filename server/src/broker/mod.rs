//! The broker role: the real-time message store and, on top of it, SEND / PULL / ACK.
//!
//! `store` owns every file under the broker's data directory; nothing else in the broker touches
//! the disk.

pub mod store;
