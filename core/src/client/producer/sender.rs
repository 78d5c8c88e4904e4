//! One batch's life: route, send SEND_MESSAGE, map the answer per message (spec §3), resend
//! what may be resent with backoff, and complete every message exactly once.
//!
//! Reaction to a broker's answer (as the Java client):
//! * id absent from the failure list, or code 0 / 2 ⇒ stored;
//! * code 1 (BUSY) or 5 (BLOCK) ⇒ refused for good, no resend;
//! * code 4 (READ_ONLY), or response BROKER_REJECT ⇒ group marked unavailable until meta sends
//!   a newer route, route refreshed, resend;
//! * code 3, 6 or unknown, other response codes, transport errors and timeouts ⇒ resend.
//!
//! A batch makes at most `producer.send_tries` attempts (route lookup failures count too);
//! then each remaining message fails with [`ClientError::SendExhausted`].
//!
//! Invariants: an in-flight permit is held only while a request is outstanding (not while
//! backing off); on client shutdown the task returns at its next await and its envelopes'
//! completers report [`ClientError::ProducerClosed`] as they drop.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::OwnedSemaphorePermit;

use super::Core;
use super::batch::{Envelope, RouteKey};
use super::completion::SendReceipt;
use crate::client::error::ClientError;
use crate::client::meta_client::Route;
use crate::protocol::frame::CURRENT_VERSION;
use crate::protocol::{
    MessageProducerCode, RequestCode, ResponseCode, SendMessageResponse, SendResult,
};

/// What a per-message code means for the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Stored (0, 2).
    Stored,
    /// Refused for good (1, 5).
    Refused,
    /// Resend to another group after a route refresh (4).
    ResendElsewhere,
    /// Resend (3, 6, unknown).
    Resend,
}

pub(crate) fn verdict(code: i32) -> Verdict {
    match MessageProducerCode::from_i32(code) {
        Some(MessageProducerCode::Success | MessageProducerCode::MessageDuplicate) => {
            Verdict::Stored
        }
        Some(MessageProducerCode::BrokerBusy | MessageProducerCode::Block) => Verdict::Refused,
        Some(MessageProducerCode::BrokerReadOnly) => Verdict::ResendElsewhere,
        _ => Verdict::Resend,
    }
}

/// A request that got a SUCCESS response.
struct Answered {
    group: String,
    route: Arc<Route>,
    failures: Vec<SendResult>,
}

/// An attempt that failed for the whole batch.
struct Failed {
    error: ClientError,
    /// Mark this group unavailable on this route and refresh.
    mark: Option<(String, Arc<Route>)>,
    /// Ask meta for a fresh route before the next attempt.
    refresh: bool,
}

impl Failed {
    fn plain(error: ClientError) -> Self {
        Self {
            error,
            mark: None,
            refresh: false,
        }
    }
}

/// Sends `batch` until every message is completed. `permit` is the in-flight slot the
/// dispatcher acquired for the first attempt.
pub(crate) async fn run_batch(
    core: Arc<Core>,
    key: RouteKey,
    mut batch: Vec<Envelope>,
    permit: OwnedSemaphorePermit,
) {
    let shutdown = core.shared.shutdown.clone();
    let mut permit = Some(permit);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let slot = match permit.take() {
            Some(p) => p,
            None => tokio::select! {
                _ = shutdown.cancelled() => return,
                p = core.in_flight.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
            },
        };
        // Built here so that no borrow of the envelopes (whose callbacks are not `Sync`) is
        // held across an await.
        let body = batch_body(&batch);
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = attempt(&core, &key, body) => r,
        };
        drop(slot);
        let last_error = match result {
            Ok(answer) => match settle(&mut batch, answer, attempts) {
                Settled::Done => return,
                Settled::Retry { error, mark } => {
                    if let Some((group, route)) = mark {
                        core.routing.mark_unavailable(&group, &route);
                        refresh(&core, &key, Some(&route)).await;
                    }
                    error
                }
            },
            Err(failed) => {
                if let Some((group, route)) = &failed.mark {
                    core.routing.mark_unavailable(group, route);
                    refresh(&core, &key, Some(route)).await;
                } else if failed.refresh {
                    refresh(&core, &key, None).await;
                }
                failed.error
            }
        };
        if attempts >= core.config.send_tries {
            tracing::warn!(subject = key.subject, attempts, error = %last_error, "send attempts exhausted");
            let source = Arc::new(last_error);
            for env in batch {
                env.completer.complete(Err(ClientError::SendExhausted {
                    message_id: env.message_id,
                    attempts,
                    source: source.clone(),
                }));
            }
            return;
        }
        tracing::debug!(subject = key.subject, attempts, error = %last_error, "resending batch");
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(core.config.backoff.delay(attempts)) => {}
        }
    }
}

enum Settled {
    Done,
    Retry {
        error: ClientError,
        mark: Option<(String, Arc<Route>)>,
    },
}

/// Completes the messages the answer settles and keeps in `batch` those to resend.
fn settle(batch: &mut Vec<Envelope>, answer: Answered, attempts: u32) -> Settled {
    let receipt = |message_id: String| SendReceipt {
        message_id,
        broker_group: answer.group.clone(),
        attempts,
    };
    if answer.failures.is_empty() {
        for env in batch.drain(..) {
            let r = receipt(env.message_id);
            env.completer.complete(Ok(r));
        }
        return Settled::Done;
    }
    let failures: HashMap<&str, &SendResult> = answer
        .failures
        .iter()
        .map(|f| (f.message_id.as_str(), f))
        .collect();
    let mut keep = Vec::new();
    let mut elsewhere = false;
    let mut last: Option<&SendResult> = None;
    for env in batch.drain(..) {
        let Some(f) = failures.get(env.message_id.as_str()) else {
            let r = receipt(env.message_id);
            env.completer.complete(Ok(r));
            continue;
        };
        match verdict(f.code) {
            Verdict::Stored => {
                let r = receipt(env.message_id);
                env.completer.complete(Ok(r));
            }
            Verdict::Refused => env.completer.complete(Err(ClientError::SendRejected {
                message_id: env.message_id,
                broker_group: answer.group.clone(),
                code: f.code,
                remark: f.remark.clone(),
            })),
            Verdict::ResendElsewhere => {
                elsewhere = true;
                last = Some(f);
                keep.push(env);
            }
            Verdict::Resend => {
                last = Some(f);
                keep.push(env);
            }
        }
    }
    *batch = keep;
    match last {
        None => Settled::Done,
        Some(f) => Settled::Retry {
            error: ClientError::SendFailedCode {
                broker_group: answer.group.clone(),
                code: f.code,
                remark: f.remark.clone(),
            },
            mark: elsewhere.then(|| (answer.group.clone(), answer.route.clone())),
        },
    }
}

/// One SEND of the whole batch to one group.
fn batch_body(batch: &[Envelope]) -> Bytes {
    let mut body = BytesMut::with_capacity(batch.iter().map(|e| e.record.len()).sum());
    for env in batch {
        body.extend_from_slice(&env.record);
    }
    body.freeze()
}

async fn attempt(core: &Core, key: &RouteKey, body: Bytes) -> Result<Answered, Failed> {
    let meta = &core.shared.meta;
    let route = meta
        .route(key.client_type, &key.subject, "")
        .await
        .map_err(Failed::plain)?;
    let Some(group) = core.routing.pick(key, &route) else {
        return Err(Failed {
            error: ClientError::NoAvailableBroker {
                subject: key.subject.clone(),
                client_type: key.client_type,
            },
            mark: None,
            refresh: true,
        });
    };
    let name = group.group_name;
    let conn = core
        .shared
        .pool
        .get_master(&name, &group.master)
        .map_err(|error| Failed {
            error,
            mark: None,
            refresh: true,
        })?;
    let frame = match conn
        .request_with_timeout(
            RequestCode::SendMessage,
            CURRENT_VERSION,
            body,
            core.config.send_timeout,
        )
        .await
    {
        Ok(frame) => frame,
        Err(error) => {
            core.routing.record_failure(&name);
            return Err(Failed::plain(error));
        }
    };
    let addr = conn.addr().to_string();
    let code = frame.header.code;
    if code != ResponseCode::Success.as_i16() {
        core.routing.record_failure(&name);
        let error = ClientError::ServerResponse {
            addr,
            request: RequestCode::SendMessage.as_i16(),
            code,
        };
        return Err(if code == ResponseCode::BrokerReject.as_i16() {
            Failed {
                error,
                mark: Some((name, route)),
                refresh: true,
            }
        } else {
            Failed::plain(error)
        });
    }
    core.routing.record_success(&name);
    let (response, _) = SendMessageResponse::decode(&frame.body).map_err(|source| {
        Failed::plain(ClientError::Protocol {
            addr,
            what: "SendMessageResponse",
            source,
        })
    })?;
    Ok(Answered {
        group: name,
        route,
        failures: response.failures,
    })
}

/// Asks meta for a fresh route unless someone already did since `seen` was fetched.
async fn refresh(core: &Core, key: &RouteKey, seen: Option<&Route>) {
    let meta = &core.shared.meta;
    if let (Some(seen), Some(cached)) = (seen, meta.cached_route(key.client_type, &key.subject)) {
        if cached.fetched_at != seen.fetched_at {
            return;
        }
    }
    if let Err(e) = meta.refresh(key.client_type, &key.subject, "").await {
        tracing::debug!(subject = key.subject, error = %e, "route refresh failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_as_the_java_client() {
        assert_eq!(verdict(0), Verdict::Stored);
        assert_eq!(verdict(2), Verdict::Stored);
        assert_eq!(verdict(1), Verdict::Refused);
        assert_eq!(verdict(5), Verdict::Refused);
        assert_eq!(verdict(4), Verdict::ResendElsewhere);
        for code in [3, 6, 7, -1, 999] {
            assert_eq!(verdict(code), Verdict::Resend, "{code}");
        }
    }
}
