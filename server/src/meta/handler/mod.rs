//! Dispatch of meta TCP requests, one file per command (spec §2.2, §2.3).
//!
//! Rules shared by every command: responses echo the request's opaque and version
//! (`Header::response_to`); one-way requests are processed but not answered; frames flagged as
//! responses are dropped; HEARTBEAT (100) gets an empty SUCCESS; other codes get UNKNOWN_CODE.

pub mod broker_acquire_meta;
pub mod broker_register;
pub mod client_register;

use std::net::SocketAddr;

use qmq_core::protocol::{Frame, RequestCode, ResponseCode};

use super::server::MetaServer;
use crate::net::FrameHandler;

/// The meta role's [`FrameHandler`]; get one from [`MetaServer::handler`].
#[derive(Debug, Clone)]
pub struct MetaHandler {
    server: MetaServer,
}

impl MetaHandler {
    pub(crate) fn new(server: MetaServer) -> Self {
        Self { server }
    }

    /// The server behind this handler.
    pub fn server(&self) -> &MetaServer {
        &self.server
    }

    /// Serves one request frame; `None` means no reply is sent.
    pub async fn dispatch(&self, request: Frame, peer: SocketAddr) -> Option<Frame> {
        if request.header.is_response() {
            tracing::debug!(conn = %peer, code = request.header.code, "response frame ignored");
            return None;
        }
        let server = &self.server;
        let response = match RequestCode::from_i16(request.header.code) {
            Some(RequestCode::ClientRegister) => {
                client_register::handle(server, &request, peer).await
            }
            Some(RequestCode::BrokerRegister) => {
                broker_register::handle(server, &request, peer).await
            }
            Some(RequestCode::BrokerAcquireMeta) => {
                broker_acquire_meta::handle(server, &request, peer).await
            }
            Some(RequestCode::Heartbeat) => {
                Frame::empty_response(&request.header, ResponseCode::Success)
            }
            _ => Frame::empty_response(&request.header, ResponseCode::UnknownCode),
        };
        (!request.header.is_one_way()).then_some(response)
    }
}

impl FrameHandler for MetaHandler {
    fn handle(
        &self,
        request: Frame,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Frame>> + Send + '_ {
        self.dispatch(request, peer)
    }

    fn accepts(&self, code: RequestCode) -> bool {
        matches!(
            code,
            RequestCode::ClientRegister
                | RequestCode::BrokerRegister
                | RequestCode::BrokerAcquireMeta
        )
    }
}
