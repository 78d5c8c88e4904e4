//! The delay role: accepts messages due in the future and hands each to a broker when due.
//!
//! Layers, bottom up: [`store`] (message log, schedule logs per time bucket, dispatch logs,
//! checkpoint), [`wheel`] (in-memory index of the buckets due soon), [`scheduler`] (accept,
//! load, dispatch, expire), behind a [`Dispatcher`]; [`broker_dispatcher`] is the real one
//! (routes from meta, SEND_MESSAGE v7 to brokers). On the wire: [`handler`] (SEND_MESSAGE from
//! delay producers), [`server::DelayServer`] (the role as a `net::FrameHandler`) and
//! [`crate::registration`] (BROKER_REGISTER as DELAY_MASTER).
//!
//! Invariants worth naming:
//! - A message is acknowledged only after it is in the message log (fsynced first under
//!   [`store::FlushPolicy::SyncBeforeAck`]).
//! - Memory holds 32-byte index entries for buckets within the look-ahead window only; payloads
//!   are read from disk when due.
//! - Delivery is at least once: what the dispatch log holds is never re-sent; what was in flight
//!   at a crash is.
//! - Time comes from a [`Clock`], so tests move it by hand.

pub mod broker_dispatcher;
pub mod clock;
pub mod config;
pub mod dispatcher;
pub mod error;
pub mod handler;
pub mod message;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod wheel;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::DelayConfig;
pub use dispatcher::{DispatchError, Dispatcher, DueMessage, SubjectBatch};
pub use error::DelayError;
pub use message::{DelayMessage, ScheduleError};
pub use scheduler::{DelayScheduler, TickReport};
pub use server::DelayServer;
