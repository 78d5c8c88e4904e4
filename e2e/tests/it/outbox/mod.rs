//! Transactional messages (the `qmq_msg_queue` outbox) against real SQLite files and real
//! PostgreSQL and MariaDB servers (qmq-testkit), with a real in-process server.
//!
//! These tests are synchronous: the SQL drivers are blocking (PostgreSQL's refuses to run
//! inside an async task), so each test owns a tokio runtime for the server and the puller.

mod commit;
mod host_hooks;
mod rollback;
mod send_failure;
mod support;
mod watchdog;
