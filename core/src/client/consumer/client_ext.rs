//! [`Client::consumer`]: a consumer on a client's runtime, id and meta client.

use super::{Consumer, ConsumerContext};
use crate::client::client::Client;
use crate::client::error::ClientError;

impl Client {
    /// A consumer of this client: it runs on the client's runtime, consumes as the client's id
    /// and shares its meta client. Closing the client stops every subscription of it. Cheap;
    /// call it once and clone the result.
    ///
    /// # Errors
    /// [`ClientError::RuntimeShutDown`] once the client is closed.
    pub fn consumer(&self) -> Result<Consumer, ClientError> {
        let shared = self.shared();
        if shared.is_shut_down() {
            return Err(ClientError::RuntimeShutDown);
        }
        Consumer::with_shutdown(
            ConsumerContext {
                handle: shared.handle.clone(),
                config: shared.config.clone(),
                client_id: shared.client_id.clone(),
                meta: shared.meta.clone(),
            },
            Some(shared.shutdown.clone()),
        )
    }
}
