//! CONSUME_MANAGE (spec §2.4): meta resets a group to the newest or oldest message.

use std::net::SocketAddr;

use qmq_core::protocol::{ConsumeManageRequest, Frame, ResponseCode};
use tracing::{error, instrument, warn};

use crate::broker::Broker;
use crate::broker::consumer::is_valid_name;

/// Handles one reset: SUCCESS, or PARAM_ERROR for a bad body or names.
#[instrument(skip_all, fields(conn = %peer))]
pub async fn handle(broker: &Broker, request: &Frame, peer: SocketAddr) -> Frame {
    let manage = match ConsumeManageRequest::decode(&request.body) {
        Ok((manage, _)) if is_valid_name(&manage.subject) && is_valid_name(&manage.group) => manage,
        Ok(_) => return Frame::empty_response(&request.header, ResponseCode::ParamError),
        Err(err) => {
            warn!(cause = %err, "undecodable CONSUME_MANAGE body");
            return Frame::empty_response(&request.header, ResponseCode::ParamError);
        }
    };
    let consumers = broker.consumers().clone();
    let result = tokio::task::spawn_blocking(move || {
        consumers.reset(&manage.subject, &manage.group, manage.consume_from_where)
    })
    .await;
    let code = match result {
        Ok(Ok(())) => ResponseCode::Success,
        Ok(Err(err)) => {
            error!(cause = %err, "consume manage failed");
            ResponseCode::BrokerError
        }
        Err(err) => {
            error!(cause = %err, "consume manage task failed");
            ResponseCode::BrokerError
        }
    };
    Frame::empty_response(&request.header, code)
}
