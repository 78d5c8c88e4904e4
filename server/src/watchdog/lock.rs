//! One working watchdog per database, elected by the database itself.
//!
//! * PostgreSQL: `pg_try_advisory_lock(key)` on a dedicated session; the lock lives exactly as
//!   long as that session. Each scan re-checks it in `pg_locks` for the session's own pid.
//! * MySQL / MariaDB: `GET_LOCK(name, 0)` on a dedicated connection; each scan re-checks
//!   `IS_USED_LOCK(name) = CONNECTION_ID()`.
//! * SQLite: no standing lock — every claim is a `BEGIN IMMEDIATE` transaction (see
//!   `qmq_core::client::transaction`), so concurrent watchdogs take turns row by row.
//!
//! Invariants: a lock connection that fails any statement is dropped, which releases the lock
//! on the server side; the next scan reconnects and competes again. Nothing here waits for a
//! lock: a watchdog that does not hold it skips the scan.

use qmq_core::client::transaction::{DatabaseLocation, OutboxError};

/// Prefix of every lock name.
const LOCK_PREFIX: &str = "qmq_watchdog:";

enum Session {
    // Boxed: the client is large and lives in one slot per watched database.
    Postgres(Box<postgres::Client>),
    MySql(mysql::Conn),
}

/// The database-native lock of one watched table.
pub struct DbLock {
    location: DatabaseLocation,
    shown: String,
    table: String,
    session: Option<Session>,
}

impl DbLock {
    /// A lock for `table` at `location`; nothing is connected yet.
    pub fn new(location: DatabaseLocation, table: &str) -> Self {
        Self {
            shown: location.display(),
            location,
            table: table.to_owned(),
            session: None,
        }
    }

    /// Whether this watchdog holds (or just took) the lock. SQLite always answers `true`.
    ///
    /// # Errors
    /// The database is unreachable or failed; the session is dropped and the lock counts as
    /// not held.
    pub fn ensure(&mut self) -> Result<bool, OutboxError> {
        let result = self.try_ensure();
        if result.is_err() {
            self.session = None;
        }
        result
    }

    /// Releases the lock by closing the session.
    pub fn release(&mut self) {
        self.session = None;
    }

    fn try_ensure(&mut self) -> Result<bool, OutboxError> {
        let name = format!("{LOCK_PREFIX}{}", self.table);
        let key = advisory_key(&name);
        let (high, low) = key_halves(key);
        let shown = self.shown.clone();
        let session = match (&mut self.session, &self.location) {
            (_, DatabaseLocation::Sqlite(_)) => return Ok(true),
            (Some(session), _) => session,
            (None, DatabaseLocation::Postgres(url)) => {
                self.session.insert(Session::Postgres(Box::new(
                    qmq_core::client::transaction::postgres::connect(url, &shown)?,
                )))
            }
            (None, DatabaseLocation::MySql(url)) => self.session.insert(Session::MySql(
                qmq_core::client::transaction::mysql::connect(url, &shown)?,
            )),
        };
        match session {
            Session::Postgres(client) => {
                let pg = |source| OutboxError::Postgres {
                    location: shown.clone(),
                    op: "advisory lock",
                    source,
                };
                let held: bool = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                         AND pid = pg_backend_pid() AND granted \
                         AND objsubid = 1 AND classid::bigint = $1 AND objid::bigint = $2)",
                        &[&high, &low],
                    )
                    .and_then(|r| r.try_get(0))
                    .map_err(pg)?;
                if held {
                    return Ok(true);
                }
                client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                    .and_then(|r| r.try_get(0))
                    .map_err(pg)
            }
            Session::MySql(conn) => {
                use mysql::prelude::Queryable;
                let my = |source| OutboxError::MySql {
                    location: shown.clone(),
                    op: "GET_LOCK",
                    source,
                };
                // Lock names are server-wide: qualify with the database.
                let qualified = "LEFT(CONCAT(?, DATABASE(), '.', ?), 64)";
                let held: Option<i64> = conn
                    .exec_first(
                        format!("SELECT IS_USED_LOCK({qualified}) = CONNECTION_ID()"),
                        (LOCK_PREFIX, &self.table),
                    )
                    .map_err(my)?
                    .flatten();
                if held == Some(1) {
                    return Ok(true);
                }
                let got: Option<i64> = conn
                    .exec_first(
                        format!("SELECT GET_LOCK({qualified}, 0)"),
                        (LOCK_PREFIX, &self.table),
                    )
                    .map_err(my)?
                    .flatten();
                Ok(got == Some(1))
            }
        }
    }
}

/// A stable 64-bit key for `pg_try_advisory_lock` (FNV-1a of the lock name), so every
/// watchdog of every version computes the same key. The key's high and low halves are what
/// `pg_locks` shows as `classid` and `objid`.
pub fn advisory_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash as i64
}

/// `(classid, objid)` as `pg_locks` shows a bigint advisory key.
pub fn key_halves(key: i64) -> (i64, i64) {
    let bits = key as u64;
    ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisory_keys_are_stable() {
        assert_eq!(advisory_key(""), 0xcbf2_9ce4_8422_2325_u64 as i64);
        assert_ne!(
            advisory_key("qmq_watchdog:a"),
            advisory_key("qmq_watchdog:b")
        );
        assert_eq!(
            advisory_key("qmq_watchdog:a"),
            advisory_key("qmq_watchdog:a")
        );
    }
}
