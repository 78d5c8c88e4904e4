//! BROKER_ACQUIRE_META (40), spec §2.3: a starting broker asks for its group and role.
//!
//! Answer, in order of precedence:
//! 1. a static broker table is configured (`brokers`): the row for (hostname, serve port), or
//!    BROKER_ERROR when there is none (QMQ's behaviour for unknown brokers);
//! 2. a registered group whose master address is `hostname:port`, or whose name is the default
//!    name for the broker: that group, role MASTER (DELAY_MASTER for delay groups), master `""`;
//! 3. otherwise the default: group `default_broker_group` with `{hostname}` and `{port}`
//!    replaced (default `<hostname>-<port>`), role MASTER, master `""`. So with no
//!    configuration every broker is the master of its own group, and its first BROKER_REGISTER
//!    creates that group.
//!
//! A body that does not decode, or a host and port that cannot form a valid group name, gets
//! BROKER_ERROR.

use std::net::SocketAddr;

use bytes::BytesMut;
use qmq_core::protocol::names::is_valid_name;
use qmq_core::protocol::{
    BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerRole, Frame, Header, ResponseCode,
};
use tracing::instrument;

use crate::meta::server::MetaServer;
use crate::meta::store::GroupKind;

/// Handles one BROKER_ACQUIRE_META frame.
#[instrument(skip_all, fields(conn = %peer, broker))]
pub async fn handle(server: &MetaServer, request: &Frame, peer: SocketAddr) -> Frame {
    let req = match BrokerAcquireMetaRequest::decode(&request.body) {
        Ok((req, _)) => req,
        Err(error) => {
            tracing::warn!(%error, "malformed BROKER_ACQUIRE_META body");
            return Frame::empty_response(&request.header, ResponseCode::BrokerError);
        }
    };
    match resolve(server, &req) {
        Some(answer) => {
            tracing::Span::current().record("broker", answer.group_name.as_str());
            tracing::info!(role = ?answer.role, "broker meta acquired");
            let mut body = BytesMut::with_capacity(answer.encoded_len());
            answer.encode(&mut body);
            Frame::new(
                Header::response_to(&request.header, ResponseCode::Success),
                body.freeze(),
            )
        }
        None => {
            tracing::warn!(
                hostname = %req.hostname,
                port = req.serve_port,
                "unknown broker asked for its meta"
            );
            Frame::empty_response(&request.header, ResponseCode::BrokerError)
        }
    }
}

fn resolve(
    server: &MetaServer,
    req: &BrokerAcquireMetaRequest,
) -> Option<BrokerAcquireMetaResponse> {
    let config = server.config();
    if !config.brokers.is_empty() {
        let port = u16::try_from(req.serve_port).ok()?;
        let entry = config
            .brokers
            .iter()
            .find(|e| e.hostname == req.hostname && e.serve_port == port)?;
        return Some(BrokerAcquireMetaResponse {
            group_name: entry.group.clone(),
            master: entry.master.clone(),
            role: entry.role.into(),
        });
    }
    let default_name = config.default_group_name(&req.hostname, req.serve_port);
    let address = format!("{}:{}", req.hostname, req.serve_port);
    let registered = server.with_state(|s| {
        s.groups()
            .values()
            .find(|g| g.master_address == address || g.name == default_name)
            .map(|g| (g.name.clone(), g.kind))
    });
    let (group_name, role) = match registered {
        Some((name, GroupKind::Delay)) => (name, BrokerRole::DelayMaster),
        Some((name, GroupKind::Normal)) => (name, BrokerRole::Master),
        None => (default_name, BrokerRole::Master),
    };
    let valid = is_valid_name(&req.hostname) && (1..=65535).contains(&req.serve_port);
    (valid && is_valid_name(&group_name)).then(|| BrokerAcquireMetaResponse {
        group_name,
        master: String::new(),
        role,
    })
}
