-- QMQ transactional-message table (outbox), MySQL / MariaDB dialect.
-- Column for column QMQ's qmq-dist/sql/init_client.sql, so rows written by QMQ's Java
-- client and by qmq-core can share one table. create_time gets a default so that
-- inserts may leave it out.
CREATE TABLE IF NOT EXISTS qmq_msg_queue (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  content     LONGTEXT     NOT NULL,
  status      SMALLINT     NOT NULL DEFAULT 0,
  error       INT UNSIGNED NOT NULL DEFAULT 0,
  create_time DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
  update_time TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY qmq_msg_queue_status_update_time (status, update_time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
