//! The client core against a real `qmq-server` started in-process on ephemeral ports.
