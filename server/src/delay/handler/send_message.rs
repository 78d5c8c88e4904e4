//! SEND_MESSAGE from delay producers (spec §3, §9): store each record for its schedule time and
//! answer with the failures only.
//!
//! Per record: an illegal subject fails with SUBJECT_NOT_ASSIGNED; a CRC mismatch with
//! STORE_ERROR (the broker would truncate its log at such a record, spec §3); a bad schedule
//! time (negative, overflowing, beyond the maximum delay) or an oversized record with
//! BROKER_BUSY and a remark naming the problem — BROKER_BUSY because the Java client treats it
//! as final instead of resending a request that can never succeed. A record without the delay
//! flag is due 10 s from now, as in QMQ. A store failure fails the whole batch with STORE_ERROR.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use qmq_core::protocol::names::is_valid_name;
use qmq_core::protocol::{
    Frame, Header, MessageProducerCode, ResponseCode, SendMessageRequest, SendMessageResponse,
    SendResult,
};
use tracing::{error, instrument, warn};

use crate::delay::dispatcher::Dispatcher;
use crate::delay::message::DelayMessage;
use crate::delay::scheduler::DelayScheduler;

/// Schedule of a record sent without the delay flag (QMQ: now + 10 s).
pub const UNFLAGGED_DELAY_MS: i64 = 10_000;

fn failure(message_id: &str, code: MessageProducerCode, remark: String) -> SendResult {
    SendResult {
        message_id: message_id.to_owned(),
        code: code.as_i32(),
        remark,
    }
}

/// Handles one SEND_MESSAGE request for `scheduler`.
#[instrument(skip_all, fields(conn = %peer))]
pub async fn handle<D: Dispatcher>(
    scheduler: &Arc<DelayScheduler<D>>,
    request: &Frame,
    peer: SocketAddr,
) -> Frame {
    let decoded = match SendMessageRequest::decode(&request.body) {
        Ok(decoded) => decoded,
        Err(err) => {
            warn!(cause = %err, "undecodable SEND body");
            return Frame::empty_response(&request.header, ResponseCode::BrokerError);
        }
    };
    let now = scheduler.now_ms();
    let mut failures = Vec::new();
    let mut accepted = Vec::with_capacity(decoded.messages.len());
    for raw in decoded.messages {
        let h = &raw.header;
        if !is_valid_name(&h.subject) {
            failures.push(failure(
                &h.message_id,
                MessageProducerCode::SubjectNotAssigned,
                "illegal subject".to_owned(),
            ));
        } else if !raw.crc_matches() {
            failures.push(failure(
                &h.message_id,
                MessageProducerCode::StoreError,
                "crc mismatch".to_owned(),
            ));
        } else {
            let schedule_time_ms = if h.is_delay() {
                h.expire_or_schedule_time
            } else {
                now.saturating_add(UNFLAGGED_DELAY_MS)
            };
            accepted.push(DelayMessage {
                subject: h.subject.clone(),
                message_id: h.message_id.clone(),
                schedule_time_ms,
                record: raw.record,
            });
        }
    }
    if !accepted.is_empty() {
        let s = Arc::clone(scheduler);
        let batch = accepted.clone();
        match tokio::task::spawn_blocking(move || s.schedule(&batch)).await {
            Ok(Ok(results)) => {
                for (m, r) in accepted.iter().zip(results) {
                    if let Err(e) = r {
                        failures.push(failure(
                            &m.message_id,
                            MessageProducerCode::BrokerBusy,
                            format!("invalid delay message: {e}"),
                        ));
                    }
                }
            }
            Ok(Err(err)) => {
                error!(cause = %err, count = accepted.len(), "delay append failed");
                failures.extend(accepted.iter().map(|m| {
                    failure(
                        &m.message_id,
                        MessageProducerCode::StoreError,
                        "store error".to_owned(),
                    )
                }));
            }
            Err(err) => {
                error!(cause = %err, "delay append task failed");
                return Frame::empty_response(&request.header, ResponseCode::BrokerError);
            }
        }
    }
    let response = SendMessageResponse { failures };
    let mut body = BytesMut::with_capacity(response.encoded_len());
    response.encode(&mut body);
    Frame::new(
        Header::response_to(&request.header, ResponseCode::Success),
        body.freeze(),
    )
}
