//! CLIENT_REGISTER (35), spec §2.2: producers and consumers ask for their broker groups.
//!
//! The real subject (retry and dead-letter prefixes stripped) selects the route; see
//! `store::routing` for assignment and filtering. The client is recorded as online. An invalid
//! subject or an undecodable body is answered with timestamp −2, OFFLINE and no groups.
//! Otherwise the timestamp is the server's current time: this server has no offline table, so
//! every client is ONLINE and a newer timestamp never hides that.

use std::net::SocketAddr;

use bytes::BytesMut;
use qmq_core::protocol::names::{is_valid_name, real_subject};
use qmq_core::protocol::{
    ClientRegisterRequest, Frame, Header, MetaInfoResponse, OnOfflineState, ResponseCode,
};
use tracing::instrument;

use crate::meta::server::MetaServer;

/// Timestamp of a refusal (spec §2.2).
pub const ERROR_TIMESTAMP: i64 = -2;

/// Handles one CLIENT_REGISTER frame.
#[instrument(skip_all, fields(conn = %peer, subject, group))]
pub async fn handle(server: &MetaServer, request: &Frame, peer: SocketAddr) -> Frame {
    let req = match ClientRegisterRequest::decode(&request.body) {
        Ok((req, _)) => req,
        Err(error) => {
            tracing::warn!(%error, "malformed CLIENT_REGISTER body");
            return refusal(request, &ClientRegisterRequest::default());
        }
    };
    let span = tracing::Span::current();
    span.record("subject", req.subject());
    span.record("group", req.consumer_group());
    let real = real_subject(req.subject());
    if !is_valid_name(req.subject()) || !is_valid_name(real) {
        tracing::debug!("CLIENT_REGISTER with invalid subject refused");
        return refusal(request, &req);
    }
    let now = server.now_ms();
    let params = server.routing_params(now);
    let client_type = req.client_type();
    let (broker_groups, durability) = server.with_state(|s| {
        let recorded = s.record_client(&req, real, now);
        let (groups, routed) = s.route_for(real, client_type, params);
        (groups, recorded.max(routed))
    });
    server.after_change(durability).await;
    respond(
        request,
        &MetaInfoResponse {
            timestamp: now,
            subject: req.subject().to_owned(),
            consumer_group: req.consumer_group().to_owned(),
            on_offline_state: OnOfflineState::Online,
            client_type,
            broker_groups,
        },
    )
}

fn refusal(request: &Frame, req: &ClientRegisterRequest) -> Frame {
    respond(
        request,
        &MetaInfoResponse {
            timestamp: ERROR_TIMESTAMP,
            subject: req.subject().to_owned(),
            consumer_group: req.consumer_group().to_owned(),
            on_offline_state: OnOfflineState::Offline,
            client_type: req.client_type(),
            broker_groups: Vec::new(),
        },
    )
}

fn respond(request: &Frame, response: &MetaInfoResponse) -> Frame {
    let mut body = BytesMut::with_capacity(response.encoded_len());
    response.encode(&mut body);
    Frame::new(
        Header::response_to(&request.header, ResponseCode::Success),
        body.freeze(),
    )
}
