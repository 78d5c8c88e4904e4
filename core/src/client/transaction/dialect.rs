//! The three SQL dialects of the outbox table and every statement the core and the watchdog
//! run against it.
//!
//! Invariants:
//! * statements only ever interpolate a validated table name ([`validate_table`]) and numbers
//!   the core computed itself; every value from outside is a bound parameter;
//! * "now" is always the database's clock (`CURRENT_TIMESTAMP`, `now()`), never the client's,
//!   so rows written by many hosts age consistently against one clock;
//! * every UPDATE sets `update_time` explicitly (SQLite and PostgreSQL have no `ON UPDATE`).

use std::time::Duration;

use super::error::OutboxError;

/// Longest accepted table name (MySQL's identifier limit; PostgreSQL's is 63).
pub const MAX_TABLE_LEN: usize = 64;

/// A SQL database the outbox table can live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (through `rusqlite`, Python's `sqlite3`, ...).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB (QMQ's own choice).
    MySql,
}

/// How a host's driver writes bound parameters in SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamStyle {
    /// `?`: rusqlite, the `mysql` crate, JDBC, Python's `sqlite3`.
    QuestionMark,
    /// `$1`, `$2`, ...: the `postgres` crate, libpq.
    Numbered,
    /// `%s`: psycopg, PyMySQL, mysqlclient.
    Format,
}

impl ParamStyle {
    fn param(self, n: usize) -> String {
        match self {
            Self::QuestionMark => "?".to_owned(),
            Self::Numbered => format!("${n}"),
            Self::Format => "%s".to_owned(),
        }
    }
}

impl Dialect {
    /// The parameter style of this crate's own driver for the dialect.
    pub fn native_param_style(self) -> ParamStyle {
        match self {
            Self::Sqlite | Self::MySql => ParamStyle::QuestionMark,
            Self::Postgres => ParamStyle::Numbered,
        }
    }

    /// Lower-case name, as used in configuration files (`sqlite`, `postgres`, `mysql`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }

    fn now(self) -> &'static str {
        match self {
            Self::Sqlite | Self::MySql => "CURRENT_TIMESTAMP",
            Self::Postgres => "now()",
        }
    }

    /// An SQL expression for "now minus `age`" in this dialect's clock.
    fn before_now(self, age: Duration) -> String {
        match self {
            // SQLite's datetime() keeps whole seconds; round up so a row is never early.
            Self::Sqlite => format!("datetime('now', '-{} seconds')", age.as_secs_f64().ceil()),
            Self::Postgres => format!("now() - make_interval(secs => {})", age.as_secs_f64()),
            Self::MySql => format!("NOW() - INTERVAL {} MICROSECOND", age.as_micros()),
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dialect {
    type Err = OutboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(Self::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(OutboxError::UnsupportedLocation {
                location: s.to_owned(),
                reason: "dialect must be sqlite, postgres or mysql",
            }),
        }
    }
}

/// Checks that `table` is `name` or `schema.name`, each `[A-Za-z_][A-Za-z0-9_]*`, at most
/// [`MAX_TABLE_LEN`] bytes in all: it is interpolated into SQL text.
///
/// # Errors
/// [`OutboxError::InvalidTableName`].
pub fn validate_table(table: &str) -> Result<(), OutboxError> {
    let ident = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = table.split('.').collect();
    if table.len() <= MAX_TABLE_LEN && parts.len() <= 2 && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(OutboxError::InvalidTableName {
            name: table.to_owned(),
        })
    }
}

/// Every statement for one table in one dialect (native parameter style).
#[derive(Debug, Clone)]
pub(crate) struct Statements {
    pub(crate) dialect: Dialect,
    pub(crate) table: String,
    /// One parameter (content); PostgreSQL's returns the id.
    pub(crate) insert: String,
    /// One parameter (id).
    pub(crate) delete: String,
    /// QMQ's BLOCK: `status = -100, error = error + 1`. One parameter (id).
    pub(crate) block: String,
    /// A failed send leaves the row for the watchdog and counts it. One parameter (id).
    pub(crate) count_error: String,
    /// The watchdog's verdict: `status = ?, error = error + 1`. Parameters status, id.
    pub(crate) mark: String,
    /// Pushes a claimed row's `update_time` to now, so that no other scan sees it as due
    /// while it is being resent. One parameter (id).
    pub(crate) touch: String,
    /// `id, content, status, error` of one row. One parameter (id).
    pub(crate) get: String,
    /// `id, content, status, error` of every row, by id.
    pub(crate) all: String,
}

impl Statements {
    pub(crate) fn new(dialect: Dialect, table: &str) -> Result<Self, OutboxError> {
        validate_table(table)?;
        let style = dialect.native_param_style();
        let p = |n| style.param(n);
        let now = dialect.now();
        Ok(Self {
            dialect,
            table: table.to_owned(),
            insert: insert_sql(dialect, table, style)?,
            delete: format!("DELETE FROM {table} WHERE id = {}", p(1)),
            block: format!(
                "UPDATE {table} SET status = -100, error = error + 1, update_time = {now} WHERE id = {}",
                p(1)
            ),
            count_error: format!(
                "UPDATE {table} SET error = error + 1, update_time = {now} WHERE id = {}",
                p(1)
            ),
            mark: format!(
                "UPDATE {table} SET status = {}, error = error + 1, update_time = {now} WHERE id = {}",
                p(1),
                p(2)
            ),
            touch: format!("UPDATE {table} SET update_time = {now} WHERE id = {}", p(1)),
            get: format!(
                "SELECT id, content, status, error FROM {table} WHERE id = {}",
                p(1)
            ),
            all: format!("SELECT id, content, status, error FROM {table} ORDER BY id"),
        })
    }

    /// Pending rows (`status = 0`) last updated more than `age` ago, oldest id first, locked
    /// for update where the dialect can (SQLite locks the whole database instead).
    pub(crate) fn due(&self, age: Duration, limit: u32) -> String {
        let table = &self.table;
        let before = self.dialect.before_now(age);
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres | Dialect::MySql => " FOR UPDATE",
        };
        format!(
            "SELECT id, content, error FROM {table} WHERE status = 0 AND update_time < {before} \
             ORDER BY id LIMIT {limit}{lock}"
        )
    }
}

/// The INSERT a host runs inside its own transaction to stage a message: one parameter, the
/// content from [`encode_content`](super::encode_content). For PostgreSQL it ends in
/// `RETURNING id`; elsewhere read the id the driver reports (`last_insert_rowid`,
/// `lastrowid`, `getGeneratedKeys`).
///
/// # Errors
/// [`OutboxError::InvalidTableName`].
pub fn insert_sql(dialect: Dialect, table: &str, style: ParamStyle) -> Result<String, OutboxError> {
    validate_table(table)?;
    let returning = match dialect {
        Dialect::Postgres => " RETURNING id",
        Dialect::Sqlite | Dialect::MySql => "",
    };
    Ok(format!(
        "INSERT INTO {table} (content) VALUES ({}){returning}",
        style.param(1)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_plain_identifiers() {
        for ok in ["qmq_msg_queue", "qmq_produce.qmq_msg_queue", "_t1"] {
            validate_table(ok).unwrap();
        }
        for bad in ["", "1t", "a;drop", "a.b.c", "a b", "t\"", &"x".repeat(65)] {
            assert!(validate_table(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn insert_sql_follows_the_host_param_style() {
        assert_eq!(
            insert_sql(Dialect::Sqlite, "qmq_msg_queue", ParamStyle::QuestionMark).unwrap(),
            "INSERT INTO qmq_msg_queue (content) VALUES (?)"
        );
        assert_eq!(
            insert_sql(Dialect::Postgres, "q.t", ParamStyle::Format).unwrap(),
            "INSERT INTO q.t (content) VALUES (%s) RETURNING id"
        );
        assert_eq!(
            insert_sql(Dialect::Postgres, "t", ParamStyle::Numbered).unwrap(),
            "INSERT INTO t (content) VALUES ($1) RETURNING id"
        );
    }

    #[test]
    fn due_query_uses_the_database_clock_and_locks_rows() {
        let s = Statements::new(Dialect::MySql, "t").unwrap();
        let q = s.due(Duration::from_millis(1500), 50);
        assert!(q.contains("NOW() - INTERVAL 1500000 MICROSECOND"), "{q}");
        assert!(q.ends_with("ORDER BY id LIMIT 50 FOR UPDATE"), "{q}");
        let s = Statements::new(Dialect::Sqlite, "t").unwrap();
        assert!(
            s.due(Duration::from_millis(1500), 5)
                .contains("'-2 seconds'")
        );
        assert_eq!(
            s.mark,
            "UPDATE t SET status = ?, error = error + 1, update_time = CURRENT_TIMESTAMP WHERE id = ?"
        );
    }
}
