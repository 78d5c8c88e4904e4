//! ACK_REQUEST (spec §5): SUCCESS, or BROKER_ERROR for bad names and failures.

use std::net::SocketAddr;

use qmq_core::protocol::{AckRequest, Frame, ResponseCode};
use tracing::{error, instrument, warn};

use crate::broker::Broker;

/// Handles one ACK on the blocking pool (a gap appends to the retry subject).
#[instrument(skip_all, fields(conn = %peer))]
pub async fn handle(broker: &Broker, request: &Frame, peer: SocketAddr) -> Frame {
    let ack = match AckRequest::decode(&request.body, request.header.version) {
        Ok((ack, _)) => ack,
        Err(err) => {
            warn!(cause = %err, "undecodable ACK body");
            return Frame::empty_response(&request.header, ResponseCode::BrokerError);
        }
    };
    let consumers = broker.consumers().clone();
    let code = match tokio::task::spawn_blocking(move || consumers.ack(&ack)).await {
        Ok(Ok(Ok(_))) => ResponseCode::Success,
        Ok(Ok(Err(_))) => ResponseCode::BrokerError,
        Ok(Err(err)) => {
            error!(cause = %err, "ack failed");
            ResponseCode::BrokerError
        }
        Err(err) => {
            error!(cause = %err, "ack task failed");
            ResponseCode::BrokerError
        }
    };
    Frame::empty_response(&request.header, code)
}
