//! A multiplexed client connection to one QMQ server (broker, delay server or meta server).
//!
//! Many requests share one TCP connection; responses are matched to requests by `opaque`
//! (spec §1). One writer task owns the write half and coalesces queued frames into few
//! writes; one reader task owns the read half and completes the waiting request's oneshot.
//!
//! Invariants:
//! * opaques are unique per connection (a wrapping `i32` counter), so a late response to a
//!   timed-out request is recognised and dropped, never handed to another request;
//! * every outstanding request completes exactly once: with its response, its timeout, or the
//!   [`ConnectionLostCause`] that ended the socket (both tasks record the cause and fail every
//!   waiter before they exit, and a request registering afterwards sees the cause at once);
//! * the socket is (re)connected on demand by the next request after it broke; concurrent
//!   requests share one connect attempt;
//! * [`Connection::close`] — and dropping the last clone — cancels both tasks and fails
//!   outstanding requests; no task outlives the connection it served;
//! * tasks run on the runtime [`Handle`] given at construction, never on an implicit one.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::address::HostPort;
use super::config::ConfigError;
use super::error::ClientError;
use crate::protocol::frame::{DEFAULT_MAX_FRAME_LEN, FLAG_ONE_WAY};
use crate::protocol::{Frame, Header, ProtocolError, RequestCode};

/// Limits and timeouts of a [`Connection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Bound on DNS resolution plus TCP connect. Default 2 s.
    pub connect_timeout: Duration,
    /// Default bound on one request, from the call until its response. Default 5 s.
    pub request_timeout: Duration,
    /// Largest frame sent or accepted. Default 64 MiB.
    pub max_frame_len: usize,
    /// Frames that may wait for the writer before senders wait. Default 1024.
    pub write_queue: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            write_queue: 1024,
        }
    }
}

impl ConnectionConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`ConfigError`] naming `connection.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "connection.connect_timeout",
                "must be greater than zero",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "connection.request_timeout",
                "must be greater than zero",
            ));
        }
        if self.max_frame_len < crate::protocol::frame::FRAME_PREFIX_LEN {
            return Err(ConfigError::invalid(
                "connection.max_frame_len",
                "smaller than a frame header",
            ));
        }
        if self.write_queue == 0 {
            return Err(ConfigError::invalid(
                "connection.write_queue",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Why a connection ended. Shared by every request that was waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionLostCause {
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Eof,
    /// Reading or writing failed.
    #[error("I/O error on the connection")]
    Io(#[source] Arc<io::Error>),
    /// The server sent bytes that are not a QMQ frame; the stream cannot be resynchronised.
    #[error("the server sent an undecodable frame")]
    Protocol(#[source] ProtocolError),
    /// The connection was closed locally.
    #[error("the connection was closed locally")]
    Closed,
}

type Waiter = oneshot::Sender<Result<Frame, ConnectionLostCause>>;

#[derive(Default)]
struct Pending {
    waiters: HashMap<i32, Waiter>,
    /// Set once, when the socket ends; afterwards nobody may register.
    lost: Option<ConnectionLostCause>,
}

/// One TCP connection and its two tasks.
struct Live {
    tx: mpsc::Sender<Bytes>,
    pending: Mutex<Pending>,
    /// Cancelled when the socket ends; a child of the connection's `closed` token.
    dead: CancellationToken,
}

impl Live {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Nothing panics under this lock; recover from poison rather than propagate it.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(
        &self,
        opaque: i32,
    ) -> Result<oneshot::Receiver<Result<Frame, ConnectionLostCause>>, ConnectionLostCause> {
        let mut p = self.lock();
        if let Some(cause) = &p.lost {
            return Err(cause.clone());
        }
        let (tx, rx) = oneshot::channel();
        p.waiters.insert(opaque, tx);
        Ok(rx)
    }

    fn unregister(&self, opaque: i32) {
        self.lock().waiters.remove(&opaque);
    }

    fn deliver(&self, frame: Frame) {
        if !frame.header.is_response() {
            tracing::debug!(
                code = frame.header.code,
                "ignoring request frame sent by server"
            );
            return;
        }
        let waiter = self.lock().waiters.remove(&frame.header.opaque);
        match waiter {
            // The receiver may have timed out meanwhile; nothing to do then.
            Some(w) => drop(w.send(Ok(frame))),
            None => tracing::debug!(
                opaque = frame.header.opaque,
                "dropping late or unknown response"
            ),
        }
    }

    /// Records why the socket ended (first cause wins), stops both tasks, fails every waiter.
    fn fail(&self, cause: ConnectionLostCause) {
        let (cause, waiters) = {
            let mut p = self.lock();
            let cause = p.lost.get_or_insert(cause).clone();
            (cause, std::mem::take(&mut p.waiters))
        };
        self.dead.cancel();
        for (_, w) in waiters {
            drop(w.send(Err(cause.clone())));
        }
    }

    fn is_dead(&self) -> bool {
        self.dead.is_cancelled()
    }
}

struct Inner {
    addr: HostPort,
    config: ConnectionConfig,
    handle: Handle,
    next_opaque: AtomicI32,
    closed: CancellationToken,
    live: tokio::sync::Mutex<Option<Arc<Live>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The tasks hold only `Live`; cancelling ends them and closes the socket.
        self.closed.cancel();
    }
}

/// A cheaply clonable handle to a multiplexed connection; all clones share one socket.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.inner.addr)
            .field("closed", &self.inner.closed.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A connection to `addr` whose tasks run on `handle`. Nothing is connected until the
    /// first request (or [`Connection::connect`]).
    pub fn new(addr: HostPort, config: ConnectionConfig, handle: Handle) -> Self {
        Self {
            inner: Arc::new(Inner {
                addr,
                config,
                handle,
                next_opaque: AtomicI32::new(0),
                closed: CancellationToken::new(),
                live: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The server address.
    pub fn addr(&self) -> &HostPort {
        &self.inner.addr
    }

    /// Whether [`Connection::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_cancelled()
    }

    /// Whether `self` and `other` are clones of the same connection.
    pub fn same_as(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Connects now unless a healthy socket exists.
    ///
    /// # Errors
    /// [`ClientError::Connect`], [`ClientError::ConnectTimeout`] or
    /// [`ClientError::ConnectionClosed`].
    pub async fn connect(&self) -> Result<(), ClientError> {
        self.live().await.map(drop)
    }

    /// Sends a request and waits up to the configured `request_timeout` for its response.
    ///
    /// # Errors
    /// As [`Connection::request_with_timeout`].
    pub async fn request(
        &self,
        code: RequestCode,
        version: i16,
        body: Bytes,
    ) -> Result<Frame, ClientError> {
        self.request_with_timeout(code, version, body, self.inner.config.request_timeout)
            .await
    }

    /// Sends a request (header as the Java `RemotingBuilder` makes it, with a fresh opaque) and
    /// waits up to `timeout` (connect included) for the response frame. The response code is
    /// not interpreted.
    ///
    /// # Errors
    /// [`ClientError::RequestTimeout`], [`ClientError::ConnectionLost`],
    /// [`ClientError::ConnectionClosed`], connect errors, or [`ClientError::Protocol`] when the
    /// frame exceeds `max_frame_len`.
    pub async fn request_with_timeout(
        &self,
        code: RequestCode,
        version: i16,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Frame, ClientError> {
        let opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed);
        let frame = self.encode(Header::request(code, version, opaque), body)?;
        match tokio::time::timeout(timeout, self.exchange(opaque, frame)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::RequestTimeout {
                addr: self.inner.addr.to_string(),
                code: code.as_i16(),
                opaque,
                timeout,
            }),
        }
    }

    /// Sends a one-way request (flag bit 1; the server never answers). Returns once the frame
    /// is queued for the writer.
    ///
    /// # Errors
    /// Connect errors, [`ClientError::ConnectionLost`] or [`ClientError::ConnectionClosed`].
    pub async fn send_one_way(
        &self,
        code: RequestCode,
        version: i16,
        body: Bytes,
    ) -> Result<(), ClientError> {
        let opaque = self.inner.next_opaque.fetch_add(1, Ordering::Relaxed);
        let mut header = Header::request(code, version, opaque);
        header.flag |= FLAG_ONE_WAY;
        let frame = self.encode(header, body)?;
        let live = self.live().await?;
        live.tx.send(frame).await.map_err(|_| self.lost(&live))
    }

    /// Closes the connection: outstanding requests fail with
    /// [`ConnectionLostCause::Closed`], later ones with [`ClientError::ConnectionClosed`].
    /// Never blocks; safe from any thread.
    pub fn close(&self) {
        self.inner.closed.cancel();
    }

    fn encode(&self, header: Header, body: Bytes) -> Result<Bytes, ClientError> {
        let frame = Frame::new(header, body);
        let len = frame.encoded_len();
        if len > self.inner.config.max_frame_len || len > i32::MAX as usize {
            return Err(ClientError::Protocol {
                addr: self.inner.addr.to_string(),
                what: "request frame",
                source: ProtocolError::FrameTooLarge {
                    length: len,
                    max: self.inner.config.max_frame_len,
                },
            });
        }
        let mut buf = BytesMut::with_capacity(len);
        frame.encode(&mut buf);
        Ok(buf.freeze())
    }

    async fn exchange(&self, opaque: i32, frame: Bytes) -> Result<Frame, ClientError> {
        let live = self.live().await?;
        let rx = live
            .register(opaque)
            .map_err(|cause| self.lost_with(cause))?;
        // Removes the waiter if this future is dropped (timeout or caller cancellation).
        let _guard = Unregister {
            live: &live,
            opaque,
        };
        live.tx.send(frame).await.map_err(|_| self.lost(&live))?;
        match rx.await {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(cause)) => Err(self.lost_with(cause)),
            Err(_) => Err(self.lost(&live)),
        }
    }

    fn lost(&self, live: &Live) -> ClientError {
        let cause = live
            .lock()
            .lost
            .clone()
            .unwrap_or(ConnectionLostCause::Closed);
        self.lost_with(cause)
    }

    fn lost_with(&self, cause: ConnectionLostCause) -> ClientError {
        if matches!(cause, ConnectionLostCause::Closed) && self.is_closed() {
            return ClientError::ConnectionClosed {
                addr: self.inner.addr.to_string(),
            };
        }
        ClientError::ConnectionLost {
            addr: self.inner.addr.to_string(),
            cause,
        }
    }

    /// The healthy socket, connecting a new one if there is none.
    async fn live(&self) -> Result<Arc<Live>, ClientError> {
        let closed_err = || ClientError::ConnectionClosed {
            addr: self.inner.addr.to_string(),
        };
        if self.is_closed() {
            return Err(closed_err());
        }
        let mut slot = self.inner.live.lock().await;
        if let Some(live) = slot.as_ref().filter(|l| !l.is_dead()) {
            return Ok(live.clone());
        }
        let stream = tokio::select! {
            _ = self.inner.closed.cancelled() => return Err(closed_err()),
            s = self.open_socket() => s?,
        };
        let (reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::channel(self.inner.config.write_queue);
        let live = Arc::new(Live {
            tx,
            pending: Mutex::new(Pending::default()),
            dead: self.inner.closed.child_token(),
        });
        let max = self.inner.config.max_frame_len;
        self.inner
            .handle
            .spawn(read_loop(reader, live.clone(), max));
        self.inner
            .handle
            .spawn(write_loop(writer, rx, live.clone()));
        tracing::debug!(conn = %self.inner.addr, "connected");
        *slot = Some(live.clone());
        Ok(live)
    }

    async fn open_socket(&self) -> Result<TcpStream, ClientError> {
        let addr = &self.inner.addr;
        let timeout = self.inner.config.connect_timeout;
        let stream =
            match tokio::time::timeout(timeout, TcpStream::connect((addr.host(), addr.port())))
                .await
            {
                Ok(Ok(s)) => s,
                Ok(Err(source)) => {
                    return Err(ClientError::Connect {
                        addr: addr.to_string(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(ClientError::ConnectTimeout {
                        addr: addr.to_string(),
                        timeout,
                    });
                }
            };
        // Requests are small and latency-bound; the writer already coalesces.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(conn = %addr, error = %e, "cannot set TCP_NODELAY");
        }
        Ok(stream)
    }
}

struct Unregister<'a> {
    live: &'a Live,
    opaque: i32,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.live.unregister(self.opaque);
    }
}

async fn read_loop(mut reader: OwnedReadHalf, live: Arc<Live>, max_frame_len: usize) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        loop {
            match Frame::decode_from(&mut buf, max_frame_len) {
                Ok(Some(frame)) => live.deliver(frame),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable frame from server, closing connection");
                    live.fail(ConnectionLostCause::Protocol(e));
                    return;
                }
            }
        }
        let want = Frame::missing_bytes(&buf).max(4096);
        buf.reserve(want.min(1024 * 1024));
        tokio::select! {
            _ = live.dead.cancelled() => {
                live.fail(ConnectionLostCause::Closed);
                return;
            }
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => {
                    live.fail(ConnectionLostCause::Eof);
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    live.fail(ConnectionLostCause::Io(Arc::new(e)));
                    return;
                }
            },
        }
    }
}

async fn write_loop(writer: OwnedWriteHalf, mut rx: mpsc::Receiver<Bytes>, live: Arc<Live>) {
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    loop {
        let first = tokio::select! {
            biased;
            _ = live.dead.cancelled() => break,
            next = rx.recv() => next,
        };
        let Some(first) = first else { break };
        let mut result = writer.write_all(&first).await;
        // Coalesce whatever else is queued into the same flush.
        while result.is_ok() {
            match rx.try_recv() {
                Ok(more) => result = writer.write_all(&more).await,
                Err(_) => break,
            }
        }
        if result.is_ok() {
            result = writer.flush().await;
        }
        if let Err(e) = result {
            live.fail(ConnectionLostCause::Io(Arc::new(e)));
            break;
        }
    }
    live.fail(ConnectionLostCause::Closed);
    // Best effort FIN; the read half is dropped by the reader task.
    let _ = writer.shutdown().await;
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
