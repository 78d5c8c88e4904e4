//! The ack sender of one pull entry (spec §5).
//!
//! * One ACK in flight per entry, covering the contiguous completed prefix.
//! * A failed ACK is retried (after a growing pause, at most the heartbeat interval); its range
//!   may have grown meanwhile.
//! * With nothing to ack for `ack_heartbeat` (10 s), a heartbeat ACK `[-1, -1]` keeps the
//!   consumer alive on the broker.
//! * On stop, the completed prefix is flushed once more, then the task ends.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ConsumerShared;
use super::entry::{Entry, sleep_or_stop};
use crate::client::error::ClientError;
use crate::protocol::frame::VERSION_9;
use crate::protocol::{AckRequest, RequestCode, ResponseCode};

/// Runs until `stop` fires and the final flush is done.
pub(crate) async fn run_ack(
    entry: Arc<Entry>,
    shared: Arc<ConsumerShared>,
    stop: CancellationToken,
) {
    let heartbeat = shared.config.consumer.ack_heartbeat;
    let mut last_sent = Instant::now();
    let mut failures = 0u32;
    loop {
        let next = entry.tracker().next_ack();
        if let Some(range) = next {
            match send_ack(&entry, &shared, range).await {
                Ok(()) => {
                    entry.tracker().acked(range);
                    entry.progress.notify_one();
                    failures = 0;
                    last_sent = Instant::now();
                }
                Err(e) => {
                    entry.tracker().ack_failed(range);
                    failures = failures.saturating_add(1);
                    tracing::warn!(subject = entry.pulled_subject, group = entry.spec.group, begin = range.0, last = range.1, error = %e, "ack failed");
                    if stop.is_cancelled() {
                        return;
                    }
                    let pause = Duration::from_millis(200u64 << failures.min(6)).min(heartbeat);
                    // A stop during the pause still gets one more flush attempt.
                    sleep_or_stop(&stop, pause).await;
                }
            }
            continue;
        }
        if stop.is_cancelled() {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = entry.ack_wake.notified() => {}
            _ = tokio::time::sleep_until(last_sent + heartbeat) => {
                if let Err(e) = send_ack(&entry, &shared, (-1, -1)).await {
                    tracing::debug!(subject = entry.pulled_subject, error = %e, "heartbeat ack failed");
                }
                last_sent = Instant::now();
            }
        }
    }
}

async fn send_ack(
    entry: &Entry,
    shared: &ConsumerShared,
    (begin, last): (i64, i64),
) -> Result<(), ClientError> {
    let Some(addr) = entry.broker_addr(&shared.meta) else {
        return Err(ClientError::NoRoute {
            subject: entry.pulled_subject.clone(),
            client_type: crate::protocol::ClientType::Consumer,
        });
    };
    let request = AckRequest {
        subject: entry.pulled_subject.clone(),
        group: entry.spec.group.clone(),
        consumer_id: entry.spec.consumer_id.clone(),
        pull_offset_begin: begin,
        pull_offset_last: last,
        is_broadcast: entry.spec.broadcast,
    };
    let mut body = BytesMut::with_capacity(request.encoded_len(VERSION_9));
    request.encode(VERSION_9, &mut body);
    let frame = shared
        .connections
        .get(&addr)
        .request(RequestCode::AckRequest, VERSION_9, body.freeze())
        .await?;
    if frame.header.code != ResponseCode::Success.as_i16() {
        return Err(ClientError::ServerResponse {
            addr: addr.to_string(),
            request: RequestCode::AckRequest.as_i16(),
            code: frame.header.code,
        });
    }
    Ok(())
}
