//! Host hooks for work done in a JDBC transaction that Java owns: transactional messages (the
//! `qmq_msg_queue` outbox) and transactional idempotence (the dedup key inserted with the
//! business work). Exports are static methods of `qunar.tc.qmq.internal.TxNative`.
//!
//! The Java classes (`qunar.tc.qmq.producer.tx`, `qunar.tc.qmq.consumer.idempotent`) run the
//! SQL on the user's `java.sql.Connection` inside the user's transaction. What they run — the
//! INSERT, the row's `content`, the dedup key and the DDL — and, for PostgreSQL and MySQL,
//! everything after the commit (checking the row is committed, sending, deleting or counting
//! the row through the core's own connection) come from `qmq-core`. This file is the only one
//! of the bridge that names `qmq_core::client::transaction` and
//! `qmq_core::client::idempotence::dialect`.
//!
//! SQLite is settled by Java, not by the core: the JDBC driver (sqlite-jdbc) loads its own copy
//! of SQLite into the JVM and the core links another. Two copies in one process know neither
//! each other's locks nor open connections (<https://www.sqlite.org/howtocorrupt.html> §2.2),
//! so for a SQLite outbox Java checks, deletes and counts rows through JDBC with the
//! statements of [`Java_qunar_tc_qmq_internal_TxNative_outboxSql`] (the core's own, from
//! [`OutboxStatements`]),
//! and uses the core only to send.
//!
//! Invariants:
//! * the outbox handle (`Kind::Outbox`) owns an [`Outbox`] and its database connection; Java's
//!   `NativeHandle` frees it once no call is running;
//! * `outboxSendRows` blocks only the calling Java thread: the core's completion callback
//!   (called exactly once, on a core thread) only posts to a channel; no Java runs on a core
//!   thread.

use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use jni::JNIEnv;
use jni::objects::{JByteArray, JClass, JLongArray, JObject, JObjectArray, JString};
use jni::sys::jlong;
use qmq_core::client::idempotence::{IdempotenceKey, dialect as dedup};
use qmq_core::client::sql::split_statements;
use qmq_core::client::transaction::{
    DatabaseLocation, Dialect, Outbox, OutboxDatabase, OutboxError, OutboxResult, OutboxStatements,
    ParamStyle, RowFate, ddl, encode_content,
};

use crate::client;
use crate::errors::{self, BridgeError};
use crate::guard::{self, Handle, Kind, Result};
use crate::message;
use crate::onload::ExceptionClass;

const WHAT: &str = "outbox";

fn bad(e: impl std::fmt::Display) -> BridgeError {
    BridgeError::InvalidArgument(e.to_string())
}

fn dialect(name: &str) -> Result<Dialect> {
    name.parse::<Dialect>().map_err(bad)
}

fn string_array<'l>(env: &mut JNIEnv<'l>, items: &[String]) -> Result<JObjectArray<'l>> {
    let n = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let array = env.new_object_array(n, "java/lang/String", JObject::null())?;
    for (i, s) in items.iter().enumerate() {
        let js = env.new_string(s)?;
        env.set_object_array_element(&array, i32::try_from(i).unwrap_or(i32::MAX), &js)?;
        env.delete_local_ref(js)?;
    }
    Ok(array)
}

/// The outbox statements for JDBC (`?` parameters), in this order: `insert` (one parameter,
/// the content; PostgreSQL's ends in `RETURNING id`, elsewhere read the generated key),
/// `status` (`status, error` of a row), `delete`, `block` (QMQ's BLOCK: `status = -100,
/// error + 1`), `countError` (`error + 1`, left for the watchdog) — one parameter each, the
/// id, mirroring the core's own statements — then the DDL, one statement per element.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_outboxSql<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    dialect_name: JString<'l>,
    table: JString<'l>,
) -> JObjectArray<'l> {
    guard::run(&mut env, |env| {
        let d = dialect(&guard::string(env, &dialect_name, "dialect")?)?;
        let t = guard::string(env, &table, "table")?;
        let sql =
            OutboxStatements::with_param_style(d, &t, ParamStyle::QuestionMark).map_err(bad)?;
        let mut out = vec![
            sql.insert,
            sql.status,
            sql.delete,
            sql.block,
            sql.count_error,
        ];
        out.extend(split_statements(&ddl(d, &t).map_err(bad)?));
        string_array(env, &out)
    })
}

/// The row `content` (QMQ's JSON) of an encoded outgoing message (see `message`), built and
/// validated exactly as a send would (so an invalid message is refused before staging).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_outboxContent<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    client_handle: jlong,
    message_bytes: JByteArray<'l>,
) -> JString<'l> {
    guard::run(&mut env, |env| {
        let c = client::open(client_handle)?;
        if message_bytes.is_null() {
            return Err(bad("message must not be null"));
        }
        let bytes = env.convert_byte_array(&message_bytes)?;
        let built = message::decode_outgoing(&c.producer, &bytes)?;
        Ok(env.new_string(encode_content(&built))?)
    })
}

/// An outbox of the client's producer over `table` at `location` (a `postgres://` or
/// `mysql://` URL, or a SQLite file path); connects lazily. Java owns the handle.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_outboxNew<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    client_handle: jlong,
    location: JString<'l>,
    table: JString<'l>,
) -> jlong {
    guard::run(&mut env, |env| {
        let c = client::open(client_handle)?;
        let location = guard::string(env, &location, "location")?;
        let table = guard::string(env, &table, "table")?;
        let location = DatabaseLocation::parse(&location).map_err(bad)?;
        let db = OutboxDatabase::new(location, &table).map_err(bad)?;
        let outbox = Outbox::new(c.producer.clone(), Arc::new(db));
        Ok(Handle::into_raw(Kind::Outbox, WHAT, outbox))
    })
}

fn open<'a>(ptr: jlong) -> Result<&'a Outbox> {
    // SAFETY: Java's NativeHandle keeps the pointer alive for the whole call (see guard).
    unsafe { Handle::<Outbox>::open(ptr, Kind::Outbox, WHAT) }
}

/// The variant name of an outbox error (`"NotCommitted"`, `"Send"`, `"Postgres"`, ...).
fn outbox_kind(e: &OutboxError) -> String {
    format!("{e:?}")
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("Outbox")
        .to_owned()
}

/// `(class, message, kind, retriable)` of an outbox failure. The kind of a failed send names
/// the row's fate: `Send.Blocked`, `Send.LeftForWatchdog`, `Send.Unchanged`.
fn failure(e: &OutboxError) -> (ExceptionClass, String, String, bool) {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    match e {
        OutboxError::Send { row, .. } => {
            let fate = match row {
                RowFate::Blocked => "Blocked",
                RowFate::LeftForWatchdog => "LeftForWatchdog",
                RowFate::Unchanged => "Unchanged",
            };
            (
                ExceptionClass::Send,
                text,
                format!("Send.{fate}"),
                e.is_retriable(),
            )
        }
        _ => (ExceptionClass::Qmq, text, outbox_kind(e), e.is_retriable()),
    }
}

/// Sends the messages of the committed rows `rowIds` (each read back through the core's own
/// connection) and settles their rows: deleted once a broker stored the message; otherwise
/// counted and left for the watchdog (BLOCK: `status = -100`). A row that is not committed
/// (rolled back) is not sent. Blocks the calling Java thread up to `timeoutMs` in all; returns,
/// in order, null for a message sent or an exception (`QmqException`, or `SendException`
/// whose kind names the row's fate) for one that was not. A row without an outcome by the
/// deadline gets kind `Timeout`: it is settled later, or left for the watchdog.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_outboxSendRows<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
    row_ids: JLongArray<'l>,
    timeout_ms: jlong,
) -> JObjectArray<'l> {
    guard::run(&mut env, |env| {
        let outbox = open(handle)?;
        if row_ids.is_null() {
            return Err(bad("rowIds must not be null"));
        }
        let n = env.get_array_length(&row_ids)?;
        let mut ids = vec![0i64; usize::try_from(n).unwrap_or(0)];
        env.get_long_array_region(&row_ids, 0, &mut ids)?;
        let (tx, rx) = channel::<(usize, OutboxResult)>();
        for (i, id) in ids.iter().enumerate() {
            let tx = tx.clone();
            // The callback runs exactly once, on a core thread: it only posts.
            outbox.send_row(*id).on_complete(Box::new(move |r| {
                let _ = tx.send((i, r));
            }));
        }
        drop(tx);
        let mut results: Vec<Option<OutboxResult>> = ids.iter().map(|_| None).collect();
        let deadline =
            Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        let mut left = ids.len();
        while left > 0 {
            let wait = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok((i, r)) => {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = Some(r);
                    }
                    left -= 1;
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let array = env.new_object_array(n, "java/lang/Object", JObject::null())?;
        for (i, (r, id)) in results.into_iter().zip(ids).enumerate() {
            let (class, text, kind, retriable) = match r {
                Some(Ok(_)) => continue,
                Some(Err(e)) => failure(&e),
                None => (
                    ExceptionClass::Qmq,
                    format!(
                        "outbox row {id}: no outcome within {timeout_ms} ms; it is settled in \
                         the background, or left for the watchdog"
                    ),
                    "Timeout".to_owned(),
                    true,
                ),
            };
            let ex = errors::exception_object(env, class, &text, &kind, retriable)?;
            env.set_object_array_element(&array, i32::try_from(i).unwrap_or(i32::MAX), &ex)?;
            env.delete_local_ref(ex)?;
        }
        Ok(array)
    })
}

/// Frees the outbox handle (its database connection goes with it).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_outboxFree<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    handle: jlong,
) {
    guard::run(&mut env, |_env| {
        // SAFETY: Java calls this once, under its write lock, after every other call returned.
        unsafe { Handle::<Outbox>::free(handle, Kind::Outbox, WHAT) }
    })
}

/// The idempotence statements for JDBC (`?` parameters): the dedup INSERT (one parameter, the
/// key; 1 row changed ⇒ first time, 0 ⇒ duplicate), the forget DELETE (one parameter, the
/// key), then the DDL, one statement per element.
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_dedupSql<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    dialect_name: JString<'l>,
    table: JString<'l>,
) -> JObjectArray<'l> {
    guard::run(&mut env, |env| {
        let d = dialect(&guard::string(env, &dialect_name, "dialect")?)?;
        let t = guard::string(env, &table, "table")?;
        let q = ParamStyle::QuestionMark;
        let mut out = vec![
            dedup::dedup_insert_sql(d, &t, q).map_err(bad)?,
            dedup::forget_sql(d, &t, q).map_err(bad)?,
        ];
        out.extend(split_statements(&dedup::ddl(d, &t).map_err(bad)?));
        string_array(env, &out)
    })
}

/// The idempotence key `<subject>%<group>%<messageId>` (at most 100 bytes: a longer one is cut
/// and suffixed with a hash, exactly as the core's stores do).
#[unsafe(no_mangle)]
pub extern "system" fn Java_qunar_tc_qmq_internal_TxNative_idempotenceKey<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    subject: JString<'l>,
    group: JString<'l>,
    message_id: JString<'l>,
) -> JString<'l> {
    guard::run(&mut env, |env| {
        let s = guard::string(env, &subject, "subject")?;
        let g = guard::string(env, &group, "group")?;
        let m = guard::string(env, &message_id, "messageId")?;
        Ok(env.new_string(IdempotenceKey::new(&s, &g, &m).as_str())?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_splits_into_statements_without_comments() {
        let s = split_statements(&ddl(Dialect::Postgres, "qmq_msg_queue").unwrap());
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CREATE TABLE IF NOT EXISTS qmq_msg_queue"));
        assert!(s.iter().all(|x| !x.contains("--") && !x.ends_with(';')));
    }

    #[test]
    fn outbox_kinds_are_variant_names() {
        assert_eq!(
            outbox_kind(&OutboxError::NotCommitted { row_id: 1 }),
            "NotCommitted"
        );
        assert_eq!(
            failure(&OutboxError::Abandoned { row_id: 1 }).2,
            "Abandoned"
        );
    }
}
