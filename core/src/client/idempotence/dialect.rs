//! The SQL of the idempotence table per database dialect: shipped DDL and the statements of
//! the mark/forget/complete/gc protocol.
//!
//! These are also the hooks for host-language bindings that keep the dedup row in *their own*
//! database transaction (Python `sqlite3`/`psycopg`, Java JDBC): they build the key with
//! [`IdempotenceKey::new`](super::IdempotenceKey::new) and run, on the connection that does the
//! business work, inside one transaction:
//! 1. [`dedup_insert_sql`] with the key as the only parameter — 1 row changed ⇒ first time,
//!    do the work and commit; 0 rows ⇒ duplicate, roll back and ack;
//! 2. on a failure, roll back: the inserted key goes with the transaction, so the retry runs.
//!
//! [`ddl`] creates the table, [`gc_sql`] (one parameter, the cut-off time) deletes old keys.
//! Statements that take a time take it as a parameter in the column's type: a timestamp for
//! PostgreSQL and MySQL, epoch milliseconds (integer) for SQLite; [`dedup_insert_sql`] uses the
//! database's own clock instead so that hosts pass only the key.
//!
//! Invariant: a table name is interpolated into SQL only after [`validate_table`] accepted it
//! (`[A-Za-z_][A-Za-z0-9_]*`, at most 64 bytes) and always quoted, so it can neither inject SQL
//! nor change case between statements.

use super::IdempotenceError;

/// QMQ's default table name.
pub const DEFAULT_TABLE: &str = "deduplicate_tbl";

const POSTGRES_DDL: &str = include_str!("../../../sql/postgresql/deduplicate_tbl.sql");
const MYSQL_DDL: &str = include_str!("../../../sql/mysql/deduplicate_tbl.sql");
const SQLITE_DDL: &str = include_str!("../../../sql/sqlite/deduplicate_tbl.sql");

/// A SQL database family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

/// How statement parameters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `?` — JDBC, Python `sqlite3`, the Rust `mysql` crate.
    Question,
    /// `$1`, `$2`, ... — the Rust `postgres` crate, libpq.
    Dollar,
    /// `%s` — Python DB-API `format` style (`psycopg`, `PyMySQL`).
    Format,
}

impl Placeholders {
    fn nth(self, n: usize) -> String {
        match self {
            Self::Question => "?".to_owned(),
            Self::Dollar => format!("${n}"),
            Self::Format => "%s".to_owned(),
        }
    }
}

impl Dialect {
    /// The placeholders the Rust driver of this dialect uses.
    pub fn native_placeholders(self) -> Placeholders {
        match self {
            Self::Postgres => Placeholders::Dollar,
            Self::MySql | Self::Sqlite => Placeholders::Question,
        }
    }

    fn quote(self, ident: &str) -> String {
        match self {
            Self::MySql => format!("`{ident}`"),
            Self::Postgres | Self::Sqlite => format!("\"{ident}\""),
        }
    }

    /// The database's current time in the column's representation.
    fn now(self) -> &'static str {
        match self {
            Self::Postgres => "now()",
            Self::MySql => "CURRENT_TIMESTAMP",
            // Epoch milliseconds; julianday works on every SQLite version (unixepoch needs 3.38).
            Self::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        }
    }
}

/// Checks that `name` is a plain identifier, safe to interpolate into SQL.
///
/// # Errors
/// [`IdempotenceError::InvalidTableName`].
pub fn validate_table(name: &str) -> Result<(), IdempotenceError> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(IdempotenceError::InvalidTableName {
            name: name.to_owned(),
        })
    }
}

/// The DDL creating `table` (and its indexes) if absent: the shipped
/// `core/sql/<dialect>/deduplicate_tbl.sql` with the names substituted. Several statements
/// separated by `;`.
///
/// # Errors
/// [`IdempotenceError::InvalidTableName`].
pub fn ddl(dialect: Dialect, table: &str) -> Result<String, IdempotenceError> {
    validate_table(table)?;
    let shipped = match dialect {
        Dialect::Postgres => POSTGRES_DDL,
        Dialect::MySql => MYSQL_DDL,
        Dialect::Sqlite => SQLITE_DDL,
    };
    // Index names first, through sentinels: they contain the table name, and so may the
    // substituted names.
    Ok(shipped
        .replace("deduplicate_tbl_update_at", "\u{1}U")
        .replace("deduplicate_tbl_k", "\u{1}K")
        .replace(DEFAULT_TABLE, &dialect.quote(table))
        .replace("\u{1}U", &dialect.quote(&format!("{table}_update_at")))
        .replace("\u{1}K", &dialect.quote(&format!("{table}_k"))))
}

/// The transactional-mode mark for hosts: inserts the key (the only parameter) with the
/// database's current time unless it exists. Rows changed: 1 ⇒ first time, 0 ⇒ duplicate.
///
/// # Errors
/// [`IdempotenceError::InvalidTableName`].
pub fn dedup_insert_sql(
    dialect: Dialect,
    table: &str,
    placeholders: Placeholders,
) -> Result<String, IdempotenceError> {
    validate_table(table)?;
    let t = dialect.quote(table);
    let k = placeholders.nth(1);
    let now = dialect.now();
    Ok(match dialect {
        Dialect::Postgres => {
            format!("INSERT INTO {t}(k, update_at) VALUES ({k}, {now}) ON CONFLICT (k) DO NOTHING")
        }
        Dialect::MySql => format!("INSERT IGNORE INTO {t}(k, update_at) VALUES ({k}, {now})"),
        Dialect::Sqlite => format!("INSERT OR IGNORE INTO {t}(k, update_at) VALUES ({k}, {now})"),
    })
}

/// Deletes one key (parameter: the key); used after a failed attempt outside a transaction.
///
/// # Errors
/// [`IdempotenceError::InvalidTableName`].
pub fn forget_sql(
    dialect: Dialect,
    table: &str,
    placeholders: Placeholders,
) -> Result<String, IdempotenceError> {
    validate_table(table)?;
    Ok(format!(
        "DELETE FROM {} WHERE k = {}",
        dialect.quote(table),
        placeholders.nth(1)
    ))
}

/// Deletes keys last written before a cut-off (parameter: the cut-off time).
///
/// # Errors
/// [`IdempotenceError::InvalidTableName`].
pub fn gc_sql(
    dialect: Dialect,
    table: &str,
    placeholders: Placeholders,
) -> Result<String, IdempotenceError> {
    validate_table(table)?;
    Ok(format!(
        "DELETE FROM {} WHERE update_at < {}",
        dialect.quote(table),
        placeholders.nth(1)
    ))
}

/// The statements the Rust stores run, with the dialect's native placeholders.
#[derive(Debug, Clone)]
pub(crate) struct StoreSql {
    /// Params: key, now — and with a TTL, the expiry cut-off. Rows changed > 0 ⇒ first time.
    pub mark: String,
    /// Params: key.
    pub forget: String,
    /// Params: key, now. Inserts or refreshes.
    pub complete: String,
    /// Params: cut-off.
    pub gc: String,
    /// No params.
    pub count: String,
}

impl StoreSql {
    pub(crate) fn new(
        dialect: Dialect,
        table: &str,
        with_ttl: bool,
    ) -> Result<Self, IdempotenceError> {
        validate_table(table)?;
        let t = dialect.quote(table);
        let p = dialect.native_placeholders();
        let (p1, p2, p3) = (p.nth(1), p.nth(2), p.nth(3));
        let mark = match (dialect, with_ttl) {
            (Dialect::Postgres, false) => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON CONFLICT (k) DO NOTHING"
            ),
            // An expired row is taken over by an update that only matches stale rows, so the
            // statement stays a single atomic decision.
            (Dialect::Postgres, true) => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON CONFLICT (k) \
                 DO UPDATE SET update_at = EXCLUDED.update_at WHERE {t}.update_at <= {p3}"
            ),
            (Dialect::MySql, false) => {
                format!("INSERT IGNORE INTO {t}(k, update_at) VALUES ({p1}, {p2})")
            }
            // Without CLIENT_FOUND_ROWS an update that keeps the value reports 0 rows, a real
            // update 2, an insert 1.
            (Dialect::MySql, true) => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON DUPLICATE KEY UPDATE \
                 update_at = IF(update_at <= {p3}, VALUES(update_at), update_at)"
            ),
            (Dialect::Sqlite, false) => {
                format!("INSERT OR IGNORE INTO {t}(k, update_at) VALUES ({p1}, {p2})")
            }
            (Dialect::Sqlite, true) => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON CONFLICT(k) \
                 DO UPDATE SET update_at = excluded.update_at WHERE {t}.update_at <= {p3}"
            ),
        };
        let complete = match dialect {
            Dialect::Postgres => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON CONFLICT (k) \
                 DO UPDATE SET update_at = EXCLUDED.update_at"
            ),
            Dialect::MySql => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON DUPLICATE KEY UPDATE \
                 update_at = VALUES(update_at)"
            ),
            Dialect::Sqlite => format!(
                "INSERT INTO {t}(k, update_at) VALUES ({p1}, {p2}) ON CONFLICT(k) \
                 DO UPDATE SET update_at = excluded.update_at"
            ),
        };
        Ok(Self {
            mark,
            forget: forget_sql(dialect, table, p)?,
            complete,
            gc: gc_sql(dialect, table, p)?,
            count: format!("SELECT COUNT(*) FROM {t}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_substitutes_and_quotes_every_name() {
        let pg = ddl(Dialect::Postgres, "my_dedup").unwrap();
        assert!(
            pg.contains("CREATE TABLE IF NOT EXISTS \"my_dedup\""),
            "{pg}"
        );
        assert!(
            pg.contains("\"my_dedup_update_at\" ON \"my_dedup\""),
            "{pg}"
        );
        let my = ddl(Dialect::MySql, "my_dedup").unwrap();
        assert!(my.contains("UNIQUE KEY `my_dedup_k` (k)"), "{my}");
        assert!(my.contains("ON UPDATE CURRENT_TIMESTAMP"), "{my}");
        assert!(
            !ddl(Dialect::Sqlite, "x")
                .unwrap()
                .contains("deduplicate_tbl")
        );
        let default = ddl(Dialect::Postgres, DEFAULT_TABLE).unwrap();
        assert!(
            default.contains("\"deduplicate_tbl_update_at\" ON \"deduplicate_tbl\""),
            "{default}"
        );
    }

    #[test]
    fn host_insert_takes_only_the_key() {
        assert_eq!(
            dedup_insert_sql(Dialect::MySql, DEFAULT_TABLE, Placeholders::Question).unwrap(),
            "INSERT IGNORE INTO `deduplicate_tbl`(k, update_at) VALUES (?, CURRENT_TIMESTAMP)"
        );
        assert_eq!(
            dedup_insert_sql(Dialect::Postgres, "t", Placeholders::Format).unwrap(),
            "INSERT INTO \"t\"(k, update_at) VALUES (%s, now()) ON CONFLICT (k) DO NOTHING"
        );
        assert_eq!(
            gc_sql(Dialect::Postgres, "t", Placeholders::Dollar).unwrap(),
            "DELETE FROM \"t\" WHERE update_at < $1"
        );
    }

    #[test]
    fn host_sql_works_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(&ddl(Dialect::Sqlite, "t").unwrap())
            .unwrap();
        let insert = dedup_insert_sql(Dialect::Sqlite, "t", Placeholders::Question).unwrap();
        assert_eq!(conn.execute(&insert, ["s%g%1"]).unwrap(), 1);
        assert_eq!(conn.execute(&insert, ["s%g%1"]).unwrap(), 0);
        let at: i64 = conn
            .query_row("SELECT update_at FROM t", [], |r| r.get(0))
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!((now - at).abs() < 60_000, "{now} vs {at}");
    }

    #[test]
    fn injection_is_refused_everywhere() {
        let bad = "t; DROP TABLE x";
        for d in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            assert!(ddl(d, bad).is_err());
            assert!(dedup_insert_sql(d, bad, Placeholders::Question).is_err());
            assert!(forget_sql(d, bad, Placeholders::Question).is_err());
            assert!(gc_sql(d, bad, Placeholders::Question).is_err());
            assert!(StoreSql::new(d, bad, true).is_err());
        }
    }
}
