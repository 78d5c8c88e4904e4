//! The client core against a real `qmq-server` started in-process on ephemeral ports.

mod consumer;
mod consumer_client;
mod consumer_scale;
mod consumer_support;
mod delay;
mod idempotence_consumer;
mod idempotence_db;
mod idempotence_support;
mod outbox;
mod producer;
mod producer_support;
mod producer_throughput;
