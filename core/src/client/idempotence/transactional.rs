//! Transactional idempotence (spec §12, QMQ's `TransactionalJdbcIdempotentChecker`): the
//! dedup row is inserted in the *same* database transaction as the consumer's business work,
//! so the work takes effect exactly once even when the consumer crashes or fails mid-way.
//!
//! [`TransactionalIdempotence::process_in_transaction`]:
//! 1. opens a transaction and inserts the key (the store's `mark` statement);
//! 2. key already present ⇒ rolls back and returns [`Processed::Duplicate`] (ack the message);
//!    a concurrent attempt that holds the key uncommitted makes the insert wait for it, so two
//!    deliveries never both run the work;
//! 3. runs the work with the transaction; `Ok` ⇒ commit ⇒ [`Processed::Done`] (ack);
//!    `Err` ⇒ roll back — the key disappears with the work, so the redelivery runs again.
//!
//! A failed commit is reported as [`TransactionalError::Store`]: the message is retried, and
//! if the commit did land after all, the retry finds the key and is skipped — still once.
//!
//! With the consumer: leave `ConsumeOptions::idempotence` empty (the non-transactional mark
//! would run outside the transaction) and build the handler with [`transactional_handler`].
//! Host bindings that own their connections use the SQL hooks of [`super::dialect`] instead.

use std::sync::Arc;

use super::{IdempotenceError, IdempotenceKey};
use crate::client::consumer::{Handler, HandlerError};
use crate::protocol::Message;

/// What [`TransactionalIdempotence::process_in_transaction`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed<T> {
    /// The key was new; the work ran and was committed with the key.
    Done(T),
    /// The key was already committed: the work did not run.
    Duplicate,
}

/// Why [`TransactionalIdempotence::process_in_transaction`] did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TransactionalError<E> {
    /// The store failed (begin, insert, commit); nothing was committed, or the commit outcome
    /// is unknown — retrying is safe either way.
    #[error(transparent)]
    Store(#[from] IdempotenceError),
    /// The work failed; the transaction, key included, was rolled back.
    #[error("business work failed: {0}")]
    Work(E),
}

/// A store that can run work in a database transaction together with the dedup insert.
pub trait TransactionalIdempotence: Send + Sync {
    /// The database transaction handed to the work.
    type Tx<'t>;

    /// Runs `work` at most once per committed `key`; see the module docs.
    ///
    /// # Errors
    /// [`TransactionalError::Store`] if the database fails, [`TransactionalError::Work`] if
    /// `work` does (both after a rollback).
    fn process_in_transaction<T, E>(
        &self,
        key: &IdempotenceKey,
        work: impl FnOnce(&mut Self::Tx<'_>) -> Result<T, E>,
    ) -> Result<Processed<T>, TransactionalError<E>>;
}

/// A consumer [`Handler`] running `work` in a transaction of `store` with the message's dedup
/// key `<subject>%<group>%<message id>`: duplicates are acked without running `work`, a failed
/// `work` or database error fails the message (it is retried).
///
/// `subject` and `group` must be those of the subscription (as in
/// [`IdempotenceKey::new`]), so that keys match across redeliveries and retries.
pub fn transactional_handler<S, F>(subject: &str, group: &str, store: Arc<S>, work: F) -> Handler
where
    S: TransactionalIdempotence + 'static,
    F: for<'t> Fn(&mut S::Tx<'t>, &Message) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    let subject = subject.to_owned();
    let group = group.to_owned();
    Arc::new(move |message: &Message| {
        let key = IdempotenceKey::new(&subject, &group, &message.header.message_id);
        match store.process_in_transaction(&key, |tx| work(tx, message)) {
            Ok(Processed::Done(()) | Processed::Duplicate) => Ok(()),
            Err(TransactionalError::Work(e)) => Err(e),
            Err(TransactionalError::Store(e)) => {
                tracing::warn!(subject, group, error = %e, "transactional idempotence failed");
                Err(HandlerError::new(format!("idempotence store: {e}")))
            }
        }
    })
}
