//! Where an outbox table lives: a SQLite file, or a PostgreSQL / MySQL URL.
//!
//! Accepted forms: `postgres://…` / `postgresql://…`, `mysql://…` / `mariadb://…`,
//! `sqlite://PATH`, `sqlite:PATH`, or a bare file path (SQLite). `:memory:` is refused: the
//! core's own connection must see the caller's committed rows, which needs a shared file.

use std::path::PathBuf;

use super::dialect::Dialect;
use super::error::OutboxError;

/// A database holding an outbox table.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum DatabaseLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:pass@host:port/db`).
    Postgres(String),
    /// A MySQL / MariaDB URL (`mysql://user:pass@host:port/db`).
    MySql(String),
}

impl DatabaseLocation {
    /// Parses one of the forms in the module docs.
    ///
    /// # Errors
    /// [`OutboxError::UnsupportedLocation`] for an empty or in-memory location or an unknown
    /// URL scheme.
    pub fn parse(text: &str) -> Result<Self, OutboxError> {
        let text = text.trim();
        let unsupported = |reason| OutboxError::UnsupportedLocation {
            location: redact(text),
            reason,
        };
        if let Some((scheme, rest)) = text.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "postgres" | "postgresql" => Ok(Self::Postgres(text.to_owned())),
                "mysql" => Ok(Self::MySql(text.to_owned())),
                "mariadb" => Ok(Self::MySql(format!("mysql://{rest}"))),
                "sqlite" => Self::sqlite(rest).map_err(|_| unsupported("no SQLite file path")),
                _ => Err(unsupported(
                    "scheme must be postgres, mysql, mariadb or sqlite",
                )),
            };
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        Self::sqlite(path).map_err(|()| unsupported("a SQLite outbox needs a file path"))
    }

    fn sqlite(path: &str) -> Result<Self, ()> {
        if path.is_empty() || path == ":memory:" || path.starts_with("file::memory:") {
            return Err(());
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }

    /// The dialect of this database.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
            Self::MySql(_) => Dialect::MySql,
        }
    }

    /// The location for logs and errors: URLs without their password.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) | Self::MySql(url) => redact(url),
        }
    }
}

impl std::fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.dialect(), self.display())
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_by_scheme() {
        assert_eq!(
            DatabaseLocation::parse("postgresql://u@h/db")
                .unwrap()
                .dialect(),
            Dialect::Postgres
        );
        assert_eq!(
            DatabaseLocation::parse("mariadb://root@h:1/qmq").unwrap(),
            DatabaseLocation::MySql("mysql://root@h:1/qmq".into())
        );
        assert_eq!(
            DatabaseLocation::parse("sqlite:///tmp/a.db").unwrap(),
            DatabaseLocation::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            DatabaseLocation::parse("data/app.db").unwrap(),
            DatabaseLocation::Sqlite("data/app.db".into())
        );
        for bad in ["", ":memory:", "sqlite::memory:", "redis://h", "sqlite://"] {
            assert!(DatabaseLocation::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_never_show() {
        let l = DatabaseLocation::parse("mysql://root:s3cret@h:3306/qmq").unwrap();
        assert_eq!(l.display(), "mysql://root:***@h:3306/qmq");
        assert!(!format!("{l:?}").contains("s3cret"));
        let e = DatabaseLocation::parse("redis://u:pw@h").unwrap_err();
        assert!(!e.to_string().contains("pw@"));
    }
}
