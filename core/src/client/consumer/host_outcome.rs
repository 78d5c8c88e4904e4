//! Waiting for a host language's verdict on a message: for bridges whose handler hands the
//! message to a thread of the host (the JVM's, Node's event loop) and blocks, on the core's
//! blocking pool, until the host reports the outcome through a channel.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::options::HandlerError;

/// What a host reports for one message: `None` acks it, `Some(reason)` fails it (retry, then
/// dead letter).
pub type HostOutcome = Option<String>;

/// How long a handler still waits for the host after its subscription was stopped.
pub const GRACE_AFTER_STOP: Duration = Duration::from_secs(10);

/// How often `stopped` is asked while waiting.
const POLL: Duration = Duration::from_millis(100);

/// Blocks until the host reports on `rx`. The message fails (and is retried, never lost) when
/// the host drops its sender without reporting, or when `stopped()` has said true for longer
/// than [`GRACE_AFTER_STOP`].
///
/// # Errors
/// The host's reason, or why no outcome came.
pub fn wait_for_host(
    rx: &Receiver<HostOutcome>,
    stopped: impl Fn() -> bool,
) -> Result<(), HandlerError> {
    let mut stopped_at: Option<Instant> = None;
    loop {
        match rx.recv_timeout(POLL) {
            Ok(None) => return Ok(()),
            Ok(Some(reason)) => return Err(HandlerError::new(reason)),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(HandlerError::new("the message was dropped uncompleted"));
            }
            Err(RecvTimeoutError::Timeout) => {
                if stopped() {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    if since.elapsed() > GRACE_AFTER_STOP {
                        return Err(HandlerError::new(
                            "the listener stopped before the handler finished",
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use super::*;

    #[test]
    fn the_hosts_verdict_decides() {
        let (tx, rx) = channel();
        tx.send(None).unwrap();
        assert!(wait_for_host(&rx, || false).is_ok());
        tx.send(Some("boom".to_owned())).unwrap();
        assert_eq!(wait_for_host(&rx, || false).unwrap_err().reason(), "boom");
        drop(tx);
        let err = wait_for_host(&rx, || false).unwrap_err();
        assert!(err.reason().contains("dropped"), "{}", err.reason());
    }
}
