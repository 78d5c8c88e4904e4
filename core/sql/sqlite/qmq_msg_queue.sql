-- QMQ transactional-message table (outbox), SQLite dialect.
-- Same columns as QMQ's qmq-dist/sql/init_client.sql. Times are UTC text
-- 'YYYY-MM-DD HH:MM:SS' (CURRENT_TIMESTAMP), so they compare as strings.
-- SQLite has no ON UPDATE: every UPDATE of a row sets update_time itself.
CREATE TABLE IF NOT EXISTS qmq_msg_queue (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  content     TEXT     NOT NULL,
  status      SMALLINT NOT NULL DEFAULT 0,
  error       INTEGER  NOT NULL DEFAULT 0,
  create_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS qmq_msg_queue_status_update_time ON qmq_msg_queue (status, update_time);
