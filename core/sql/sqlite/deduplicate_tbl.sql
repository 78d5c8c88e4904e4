-- QMQ idempotence table (spec §12) for SQLite. update_at holds milliseconds since the Unix
-- epoch (SQLite has no timestamp type; the declared type is kept for familiarity).
CREATE TABLE IF NOT EXISTS deduplicate_tbl (
  id        INTEGER      PRIMARY KEY AUTOINCREMENT,
  k         VARCHAR(100) NOT NULL UNIQUE,
  update_at TIMESTAMP    NOT NULL
);
CREATE INDEX IF NOT EXISTS deduplicate_tbl_update_at ON deduplicate_tbl (update_at);
