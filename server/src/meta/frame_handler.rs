//! SCRATCH: the lead's `net::FrameHandler` trait, declared here until `server/src/net/` lands on
//! main. Delete this file after `git merge main` and import the real trait instead.

// Only implemented here, not yet used as a bound: the net module will use it.
#[allow(dead_code)]
/// Serves decoded request frames of one role.
pub trait FrameHandler: Send + Sync + 'static {
    /// Handles one request; `None` sends no reply.
    fn handle(
        &self,
        request: qmq_core::protocol::Frame,
        peer: std::net::SocketAddr,
    ) -> impl std::future::Future<Output = Option<qmq_core::protocol::Frame>> + Send + '_;
}
