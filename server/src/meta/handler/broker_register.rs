//! BROKER_REGISTER (30), spec §2.3: broker and delay-server masters announce themselves.
//!
//! Masters (MASTER, DELAY, DELAY_MASTER): ONLINE and HEARTBEAT upsert the group with the
//! reported address and state (a heartbeat for an unknown group creates it, so brokers need no
//! manual registration); OFFLINE marks it NRW. Other roles are acknowledged only. The answer is
//! SUCCESS with an empty body, or PARAM_ERROR for a body that does not decode, an invalid group
//! name, or a master without an address.

use std::net::SocketAddr;

use qmq_core::protocol::names::is_valid_name;
use qmq_core::protocol::{BrokerRegisterRequest, BrokerRequestType, Frame, ResponseCode};
use tracing::instrument;

use crate::meta::server::MetaServer;

/// Handles one BROKER_REGISTER frame.
#[instrument(skip_all, fields(conn = %peer, broker))]
pub async fn handle(server: &MetaServer, request: &Frame, peer: SocketAddr) -> Frame {
    let req = match BrokerRegisterRequest::decode(&request.body) {
        Ok((req, _)) => req,
        Err(error) => {
            tracing::warn!(%error, "malformed BROKER_REGISTER body");
            return Frame::empty_response(&request.header, ResponseCode::ParamError);
        }
    };
    tracing::Span::current().record("broker", req.group_name.as_str());
    if !is_valid_name(&req.group_name) {
        tracing::warn!("BROKER_REGISTER with invalid group name");
        return Frame::empty_response(&request.header, ResponseCode::ParamError);
    }
    if !req.broker_role.is_master() {
        tracing::debug!(role = ?req.broker_role, "non-master registration acknowledged");
        return Frame::empty_response(&request.header, ResponseCode::Success);
    }
    if req.request_type != BrokerRequestType::Offline && req.broker_address.trim().is_empty() {
        tracing::warn!("BROKER_REGISTER from a master without an address");
        return Frame::empty_response(&request.header, ResponseCode::ParamError);
    }
    let now = server.now_ms();
    let durability = server.with_state(|s| s.register_broker(&req, now));
    tracing::debug!(
        request_type = ?req.request_type,
        state = ?req.broker_state,
        "broker registered"
    );
    server.after_change(durability).await;
    Frame::empty_response(&request.header, ResponseCode::Success)
}
