//! The accept loop: bounded connections, backoff on accept errors, graceful stop.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::connection::Connection;
use super::{FrameHandler, NetConfig};

/// Serves `listener` with `handler` until `shutdown` is cancelled, then waits (up to the grace
/// period) for connections to finish their in-flight requests.
pub async fn serve<H: FrameHandler>(
    listener: TcpListener,
    handler: Arc<H>,
    config: NetConfig,
    shutdown: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let tracker = TaskTracker::new();
    let config = Arc::new(config);
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = limit.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(5);
                let _ = stream.set_nodelay(true);
                debug!(conn = %peer, "accepted");
                let connection = Connection::new(
                    stream,
                    peer,
                    handler.clone(),
                    config.clone(),
                    shutdown.clone(),
                );
                tracker.spawn(async move {
                    connection.run().await;
                    drop(permit);
                });
            }
            Err(err) => {
                // Accept errors (EMFILE and friends) are transient: back off instead of spinning.
                warn!(error = %err, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
    tracker.close();
    if tokio::time::timeout(config.shutdown_grace(), tracker.wait())
        .await
        .is_err()
    {
        warn!("connections still busy at the end of the shutdown grace period");
    }
}
