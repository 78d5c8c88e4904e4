//! What the SQL-backed parts of the client (the transactional outbox and the idempotence
//! stores) share: the database families, how a driver writes bound parameters, and the rule
//! for names that are interpolated into SQL text.
//!
//! Invariant: a table name reaches SQL text only after [`is_table_name`] accepted it.

/// A SQL database family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite (through `rusqlite`, Python's `sqlite3`, JDBC's sqlite-jdbc, ...).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB (QMQ's own choice).
    MySql,
}

impl Dialect {
    /// Every dialect, for tests and listings.
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

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
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A dialect name that is none of `sqlite`, `postgres`, `mysql` (or their aliases).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQL dialect {0:?}: expected sqlite, postgres or mysql")]
pub struct UnknownDialect(pub String);

impl std::str::FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sqlite" | "sqlite3" => Ok(Self::Sqlite),
            "postgres" | "postgresql" | "pg" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
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
    /// The placeholder of the `n`th (1-based) parameter.
    pub fn param(self, n: usize) -> String {
        match self {
            Self::QuestionMark => "?".to_owned(),
            Self::Numbered => format!("${n}"),
            Self::Format => "%s".to_owned(),
        }
    }
}

/// Longest accepted table name (MySQL's identifier limit; PostgreSQL's is 63).
pub const MAX_TABLE_LEN: usize = 64;

/// Whether `name` may be interpolated into SQL as a table name: `[A-Za-z_][A-Za-z0-9_]*`, or
/// `schema.name` of two such parts when `allow_schema`, at most [`MAX_TABLE_LEN`] bytes.
pub fn is_table_name(name: &str, allow_schema: bool) -> bool {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    let max_parts = if allow_schema { 2 } else { 1 };
    name.len() <= MAX_TABLE_LEN && parts.len() <= max_parts && parts.iter().all(|p| identifier(p))
}

/// Splits a shipped DDL file into statements that drivers executing one statement at a time
/// (JDBC, Python DB-API) accept: `--` comment lines dropped, split at `;`. The shipped files
/// have no `;` inside a statement.
pub fn split_statements(ddl: &str) -> Vec<String> {
    let code: String = ddl
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    code.split(';')
        .map(str::trim)
        .filter(|statement| !statement.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_names_round_trip_and_aliases_parse() {
        for dialect in Dialect::ALL {
            assert_eq!(dialect.name().parse::<Dialect>().unwrap(), dialect);
        }
        assert_eq!("MariaDB".parse::<Dialect>().unwrap(), Dialect::MySql);
        assert_eq!("postgresql".parse::<Dialect>().unwrap(), Dialect::Postgres);
        assert!("oracle".parse::<Dialect>().is_err());
    }

    #[test]
    fn param_styles() {
        assert_eq!(ParamStyle::QuestionMark.param(2), "?");
        assert_eq!(ParamStyle::Numbered.param(2), "$2");
        assert_eq!(ParamStyle::Format.param(2), "%s");
    }

    #[test]
    fn ddl_splits_into_statements_without_comments() {
        let ddl =
            "-- a table\nCREATE TABLE t (id INT);\n\n-- its index\nCREATE INDEX i ON t (id);\n";
        assert_eq!(
            split_statements(ddl),
            ["CREATE TABLE t (id INT)", "CREATE INDEX i ON t (id)"]
        );
    }

    #[test]
    fn table_names() {
        assert!(is_table_name("qmq_msg_queue", false));
        assert!(is_table_name("_t1", false));
        assert!(!is_table_name("qmq.msg", false));
        assert!(is_table_name("qmq_produce.qmq_msg_queue", true));
        for bad in ["", "1t", "t;drop", "a.b.c", "t t", "\"t\"", &"x".repeat(65)] {
            assert!(!is_table_name(bad, true), "{bad:?}");
        }
    }
}
