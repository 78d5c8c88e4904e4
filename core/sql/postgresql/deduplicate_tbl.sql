-- QMQ idempotence table (spec §12) for PostgreSQL. One row per processed message key
-- `<subject>%<group>%<extract(msg)>`; the UNIQUE constraint on k is what makes a mark atomic.
-- update_at is written by the client on mark and complete (PostgreSQL has no ON UPDATE);
-- gc deletes rows with update_at older than a cut-off.
CREATE TABLE IF NOT EXISTS deduplicate_tbl (
  id        BIGSERIAL    PRIMARY KEY,
  k         VARCHAR(100) NOT NULL UNIQUE,
  update_at TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS deduplicate_tbl_update_at ON deduplicate_tbl (update_at);
