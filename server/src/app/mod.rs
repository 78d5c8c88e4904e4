//! Process-level plumbing: configuration files, the runtime directory, and running roles.
//!
//! [`standalone`] runs every role in one process; [`roles`] starts each role on bound
//! listeners so `standalone`, `meta`, `broker` and `delay` share one code path.

pub mod config_file;
pub mod roles;
pub mod runtime_files;
pub mod server_config;
pub mod standalone;
