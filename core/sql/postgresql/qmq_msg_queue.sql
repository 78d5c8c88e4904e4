-- QMQ transactional-message table (outbox), PostgreSQL dialect.
-- Same columns as QMQ's qmq-dist/sql/init_client.sql; PostgreSQL has no ON UPDATE,
-- so every UPDATE of a row sets update_time itself.
CREATE TABLE IF NOT EXISTS qmq_msg_queue (
  id          BIGSERIAL   PRIMARY KEY,
  content     TEXT        NOT NULL,
  status      SMALLINT    NOT NULL DEFAULT 0,
  error       INTEGER     NOT NULL DEFAULT 0 CHECK (error >= 0),
  create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
  update_time TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS qmq_msg_queue_status_update_time ON qmq_msg_queue (status, update_time);
