//! QMQ wire protocol.
