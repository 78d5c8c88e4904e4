//! One handler per broker command; each decodes its request, applies it and builds the reply.
//!
//! Invariants: a handler never panics on request bytes; undecodable bodies are answered
//! BROKER_ERROR (PARAM_ERROR for CONSUME_MANAGE); blocking store work (appends that may fsync,
//! acks that may append, checkpoints) runs on the blocking pool.

pub mod ack;
pub mod consume_manage;
pub mod pull_message;
pub mod send_message;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;

use qmq_core::protocol::{Frame, RequestCode, ResponseCode};

use super::Broker;

/// Routes a request to its handler. `None` = no reply.
pub(crate) async fn dispatch(broker: &Broker, request: Frame, peer: SocketAddr) -> Option<Frame> {
    match RequestCode::from_i16(request.header.code) {
        Some(RequestCode::SendMessage) => Some(send_message::handle(broker, &request, peer).await),
        Some(RequestCode::PullMessage) => pull_message::handle(broker, &request, peer).await,
        Some(RequestCode::AckRequest) => Some(ack::handle(broker, &request, peer).await),
        Some(RequestCode::ConsumeManage) => {
            Some(consume_manage::handle(broker, &request, peer).await)
        }
        _ => Some(Frame::empty_response(
            &request.header,
            ResponseCode::UnknownCode,
        )),
    }
}
