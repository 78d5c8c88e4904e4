//! The delay role: accepts messages due in the future and hands each to a broker when due.
pub mod clock;
pub mod store;
