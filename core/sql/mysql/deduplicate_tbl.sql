-- QMQ idempotence table (spec §12) for MySQL and MariaDB, in the shape of QMQ's
-- deduplicate_tbl. One row per processed message key `<subject>%<group>%<extract(msg)>`; the
-- UNIQUE key on k is what makes `INSERT IGNORE` an atomic mark. gc deletes rows with
-- update_at older than a cut-off. TIMESTAMP values are read and written in UTC by the store
-- (it sets the session time_zone to +00:00).
CREATE TABLE IF NOT EXISTS deduplicate_tbl (
  id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  k         VARCHAR(100) NOT NULL,
  update_at TIMESTAMP    NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  UNIQUE KEY deduplicate_tbl_k (k),
  KEY deduplicate_tbl_update_at (update_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
