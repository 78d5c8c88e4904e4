//! One client connection: a reader loop that dispatches each request to its own task, and a
//! writer task that batches responses into as few writes as possible.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use qmq_core::protocol::{Frame, RequestCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::{FrameHandler, NetConfig};

pub(super) struct Connection<H> {
    stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<H>,
    config: Arc<NetConfig>,
    shutdown: CancellationToken,
}

impl<H: FrameHandler> Connection<H> {
    pub(super) fn new(
        stream: TcpStream,
        peer: SocketAddr,
        handler: Arc<H>,
        config: Arc<NetConfig>,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            stream,
            peer,
            handler,
            config,
            shutdown,
        }
    }

    pub(super) async fn run(self) {
        let Self {
            stream,
            peer,
            handler,
            config,
            shutdown,
        } = self;
        let (mut reader, writer) = stream.into_split();
        let (tx, rx) = mpsc::unbounded_channel::<Frame>();
        let writer_task = tokio::spawn(write_loop(writer, rx, peer));
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight_per_connection));
        let requests = TaskTracker::new();
        let closed = CancellationToken::new();
        let mut buf = BytesMut::with_capacity(64 * 1024);
        'read: loop {
            loop {
                match Frame::decode_from(&mut buf, config.max_frame_bytes) {
                    Ok(Some(frame)) => {
                        if frame.header.is_response() {
                            continue;
                        }
                        let Some(reply) = immediate_reply(&*handler, &frame) else {
                            let permit = tokio::select! {
                                _ = shutdown.cancelled() => break 'read,
                                permit = in_flight.clone().acquire_owned() => match permit {
                                    Ok(permit) => permit,
                                    Err(_) => break 'read,
                                },
                            };
                            let handler = handler.clone();
                            let tx = tx.clone();
                            let closed = closed.clone();
                            requests.spawn(async move {
                                let one_way = frame.header.is_one_way();
                                let is_pull =
                                    frame.header.code == RequestCode::PullMessage.as_i16();
                                let handling = handler.handle(frame, peer);
                                // A parked long poll whose client is gone must not take messages
                                // it can never deliver; roles' pull paths are cancel-safe.
                                let reply = if is_pull {
                                    tokio::select! {
                                        reply = handling => reply,
                                        () = closed.cancelled() => None,
                                    }
                                } else {
                                    handling.await
                                };
                                if let (Some(reply), false) = (reply, one_way) {
                                    let _ = tx.send(reply);
                                }
                                drop(permit);
                            });
                            continue;
                        };
                        if !frame.header.is_one_way() {
                            let _ = tx.send(reply);
                        }
                    }
                    Ok(None) => break,
                    Err(err) => {
                        warn!(conn = %peer, error = %err, "malformed frame; closing connection");
                        break 'read;
                    }
                }
            }
            buf.reserve(Frame::missing_bytes(&buf).max(4096));
            let read = tokio::select! {
                _ = shutdown.cancelled() => break,
                read = reader.read_buf(&mut buf) => read,
            };
            match read {
                Ok(0) => {
                    if !buf.is_empty() {
                        debug!(conn = %peer, pending = buf.len(), "peer closed inside a frame");
                    }
                    break;
                }
                Ok(_) => {}
                Err(err) => {
                    debug!(conn = %peer, error = %err, "read failed");
                    break;
                }
            }
        }
        closed.cancel();
        requests.close();
        requests.wait().await;
        drop(tx);
        let _ = writer_task.await;
        debug!(conn = %peer, "closed");
    }
}

/// Answers what the net layer owns: heartbeats and codes the role does not process.
fn immediate_reply<H: FrameHandler>(handler: &H, frame: &Frame) -> Option<Frame> {
    match RequestCode::from_i16(frame.header.code) {
        Some(RequestCode::Heartbeat) => {
            Some(Frame::empty_response(&frame.header, ResponseCode::Success))
        }
        Some(code) if handler.accepts(code) => None,
        _ => {
            debug!(code = frame.header.code, "unknown request code");
            Some(Frame::empty_response(
                &frame.header,
                ResponseCode::UnknownCode,
            ))
        }
    }
}

async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Frame>,
    peer: SocketAddr,
) {
    let mut out = BytesMut::with_capacity(64 * 1024);
    while let Some(frame) = rx.recv().await {
        frame.encode(&mut out);
        // Coalesce whatever else is ready into the same write.
        while out.len() < 1024 * 1024 {
            match rx.try_recv() {
                Ok(frame) => frame.encode(&mut out),
                Err(_) => break,
            }
        }
        if let Err(err) = writer.write_all(&out).await {
            debug!(conn = %peer, error = %err, "write failed");
            return;
        }
        out.clear();
    }
    let _ = writer.shutdown().await;
}
