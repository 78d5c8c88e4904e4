//! SEND_MESSAGE (spec §3): validate each record, append the good ones in one batch, answer with
//! the failures only.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use qmq_core::protocol::{
    Frame, Header, MessageProducerCode, ResponseCode, SendMessageRequest, SendMessageResponse,
    SendResult,
};
use tracing::{error, instrument, warn};

use crate::broker::Broker;
use crate::broker::consumer::is_valid_name;
use crate::broker::store::AppendMessage;

/// Handles one SEND: per message, an invalid subject fails with SUBJECT_NOT_ASSIGNED and a CRC
/// mismatch (or a record too large for a segment) with STORE_ERROR; the rest is stored in one
/// batch (flushed first under the `sync` flush mode). Undecodable bodies get BROKER_ERROR.
#[instrument(skip_all, fields(conn = %peer))]
pub async fn handle(broker: &Broker, request: &Frame, peer: SocketAddr) -> Frame {
    let decoded = match SendMessageRequest::decode(&request.body) {
        Ok(decoded) => decoded,
        Err(err) => {
            warn!(cause = %err, "undecodable SEND body");
            return Frame::empty_response(&request.header, ResponseCode::BrokerError);
        }
    };
    let store = broker.store();
    let mut failures = Vec::new();
    let mut accepted: Vec<(String, String, i64, Bytes)> = Vec::new();
    for raw in decoded.messages {
        let header = &raw.header;
        let failure = if !is_valid_name(&header.subject) {
            Some((MessageProducerCode::SubjectNotAssigned, "illegal subject"))
        } else if !raw.crc_matches() {
            Some((MessageProducerCode::StoreError, "crc mismatch"))
        } else if !store.fits(&header.subject, raw.record.len() - 8) {
            Some((MessageProducerCode::StoreError, "message too large"))
        } else {
            None
        };
        match failure {
            Some((code, remark)) => failures.push(SendResult {
                message_id: header.message_id.clone(),
                code: code.as_i32(),
                remark: remark.to_owned(),
            }),
            None => accepted.push((
                header.subject.clone(),
                header.message_id.clone(),
                i64::from(raw.crc()),
                raw.payload(),
            )),
        }
    }
    if !accepted.is_empty() {
        let store = store.clone();
        let batch = accepted.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let messages: Vec<AppendMessage<'_>> = batch
                .iter()
                .map(|(subject, _, crc, payload)| AppendMessage {
                    subject,
                    crc: *crc,
                    payload,
                })
                .collect();
            store.append(&messages)
        })
        .await;
        match stored {
            Ok(Ok(_)) => {
                let mut subjects: Vec<&str> = accepted.iter().map(|a| a.0.as_str()).collect();
                subjects.dedup();
                for subject in subjects {
                    broker.consumers().notify(subject);
                }
            }
            Ok(Err(err)) => {
                error!(cause = %err, count = accepted.len(), "append failed");
                failures.extend(accepted.into_iter().map(|(_, id, _, _)| SendResult {
                    message_id: id,
                    code: MessageProducerCode::StoreError.as_i32(),
                    remark: "store error".to_owned(),
                }));
            }
            Err(err) => {
                error!(cause = %err, "append task failed");
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
