//! A small blocking connection pool for the network stores (PostgreSQL, MySQL, Redis).
//!
//! Invariants:
//! * at most `max_size` connections exist at once; a caller that finds none idle and the pool
//!   full waits up to `checkout_timeout`, then fails (no unbounded queueing behind a dead
//!   database);
//! * connections are opened lazily by the caller's `connect` function, so a store can be built
//!   while the database is down and starts working when it comes back;
//! * a connection whose call failed at the connection level is marked broken by the caller and
//!   dropped instead of being returned: after a database restart every stale connection is
//!   discarded on first use and replaced by a fresh one, so the store never stays broken.

// Only the feature-gated network stores use the pool.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "redis")),
    allow(dead_code)
)]

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Size and wait limits of the connection pool of the PostgreSQL, MySQL and Redis stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections open at once. Default 8 (the default listener concurrency).
    pub max_size: usize,
    /// How long a caller waits for a connection when all are in use. Default 10 s.
    pub checkout_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 8,
            checkout_timeout: Duration::from_secs(10),
        }
    }
}

struct State<C> {
    idle: Vec<C>,
    /// Idle plus checked out.
    open: usize,
}

pub(crate) struct Pool<C> {
    state: Mutex<State<C>>,
    returned: Condvar,
    config: PoolConfig,
}

/// Why no connection was handed out.
#[derive(Debug)]
pub(crate) enum CheckoutError<E> {
    /// Opening a new connection failed.
    Connect(E),
    /// All connections stayed busy for the checkout timeout.
    Timeout(Duration),
}

impl<C> Pool<C> {
    pub(crate) fn new(config: PoolConfig) -> Self {
        Self {
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            config: PoolConfig {
                max_size: config.max_size.max(1),
                ..config
            },
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // Nothing panics while holding the lock; recover from poison anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An idle connection, or a new one from `connect` when fewer than `max_size` are open.
    pub(crate) fn get<E>(
        &self,
        connect: impl FnOnce() -> Result<C, E>,
    ) -> Result<Pooled<'_, C>, CheckoutError<E>> {
        let deadline = Instant::now() + self.config.checkout_timeout;
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Pooled::new(self, conn));
            }
            if state.open < self.config.max_size {
                state.open += 1;
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(CheckoutError::Timeout(self.config.checkout_timeout));
            }
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(state);
        // Connect outside the lock: it may take a connect timeout.
        match connect() {
            Ok(conn) => Ok(Pooled::new(self, conn)),
            Err(e) => {
                self.release_slot();
                Err(CheckoutError::Connect(e))
            }
        }
    }

    fn release_slot(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open
    }
}

/// Runs `f` on a connection from `checkout`. When `f` fails and `is_broken` says the
/// connection is unusable, the connection is dropped, and when `retry` (idempotent operations
/// only: a retried `mark` could report a false duplicate) `f` runs once more on a fresh one.
/// Errors of `f` become the store's error through `fail`.
pub(crate) fn run_with_reconnect<'p, C: 'p, T, E, X>(
    checkout: impl Fn() -> Result<Pooled<'p, C>, X>,
    retry: bool,
    f: impl Fn(&mut C) -> Result<T, E>,
    is_broken: impl Fn(&E, &C) -> bool,
    fail: impl FnOnce(E) -> X,
) -> Result<T, X> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut conn = checkout()?;
        match f(&mut conn) {
            Ok(v) => return Ok(v),
            Err(e) => {
                let broken = is_broken(&e, &conn);
                if broken {
                    conn.mark_broken();
                }
                if !(broken && retry && attempt == 1) {
                    return Err(fail(e));
                }
            }
        }
    }
}

/// A checked-out connection; returned to the pool on drop unless marked broken.
pub(crate) struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
    broken: bool,
}

impl<'a, C> Pooled<'a, C> {
    fn new(pool: &'a Pool<C>, conn: C) -> Self {
        Self {
            pool,
            conn: Some(conn),
            broken: false,
        }
    }

    /// The connection will be closed instead of reused.
    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }
}

impl<C> std::ops::Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("present until drop")
    }
}

impl<C> std::ops::DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("present until drop")
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.broken {
            drop(conn);
            self.pool.release_slot();
        } else {
            self.pool.lock().idle.push(conn);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max: usize) -> Pool<u32> {
        Pool::new(PoolConfig {
            max_size: max,
            checkout_timeout: Duration::from_millis(50),
        })
    }

    #[test]
    fn connections_are_reused_and_bounded() {
        let p = pool(2);
        let mut made = 0;
        let mut connect = || -> Result<u32, ()> {
            made += 1;
            Ok(made)
        };
        let a = p.get(&mut connect).ok().unwrap();
        let b = p.get(&mut connect).ok().unwrap();
        assert!(matches!(
            p.get(&mut connect),
            Err(CheckoutError::Timeout(_))
        ));
        drop(a);
        assert_eq!(*p.get(&mut connect).ok().unwrap(), 1, "reused");
        drop(b);
        assert_eq!(made, 2);
    }

    #[test]
    fn broken_connections_and_failed_connects_free_their_slot() {
        let p = pool(1);
        let mut c = p.get(|| Ok::<_, ()>(7)).ok().unwrap();
        c.mark_broken();
        drop(c);
        assert_eq!(p.open(), 0);
        assert!(matches!(
            p.get(|| Err::<u32, _>("down")),
            Err(CheckoutError::Connect("down"))
        ));
        assert_eq!(p.open(), 0);
        assert_eq!(
            *p.get(|| Ok::<_, ()>(8)).ok().unwrap(),
            8,
            "fresh after broken"
        );
        assert_eq!(p.open(), 1, "returned to the idle list");
    }
}
