//! Send-back of failed messages (spec §6): a copy goes to the retry subject, or after the last
//! try to the dead-letter subject, before the original is acked.
//!
//! The copy keeps the message id, tags and attributes, and gets `qmq_times = times + 1` (absent
//! = 1), `qmq_createTime = now` and subject `%RETRY%<subject>%<group>` — or
//! `%DEAD_RETRY%<subject>%<group>` once `times + 1` exceeds the maximum (attribute
//! `qmq_maxRetryNum`, else the subscription's, else the config's). It is sent with SEND_MESSAGE
//! to a broker group of the PRODUCER route of the real subject (meta routes retry subjects by
//! their real subject).
//!
//! Invariant: [`SendBack::send`] returns only when a broker stored the copy or the caller
//! cancelled; attempts go to up to 2 × groups brokers at once, then continue every
//! `retry_delay` with a refreshed route, indefinitely (QMQ).

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio_util::sync::CancellationToken;

use super::connections::BrokerConnections;
use crate::client::address::HostPort;
use crate::client::error::ClientError;
use crate::client::meta_client::MetaClient;
use crate::protocol::frame::VERSION_9;
use crate::protocol::message::{FLAG_DELAY, FLAG_TAGS};
use crate::protocol::names::{attr, dead_retry_subject, retry_subject};
use crate::protocol::{
    ClientType, Message, MessageProducerCode, RequestCode, ResponseCode, SendMessageRequest,
    SendMessageResponse,
};

/// Where a failed message's copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryTarget {
    /// `%RETRY%<subject>%<group>`: delivered again after the broker's retry delay.
    Retry,
    /// `%DEAD_RETRY%<subject>%<group>`: kept, never delivered by this library.
    Dead,
}

/// The delivery attempt number of a message (`qmq_times`, absent or unreadable = 1).
pub(crate) fn times(message: &Message) -> u32 {
    message
        .attr(attr::TIMES)
        .and_then(|t| t.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

/// Builds the copy of a failed `original` (consumed by `group` of `real_subject`).
pub(crate) fn build_retry_copy(
    original: &Message,
    real_subject: &str,
    group: &str,
    default_max_retry: u32,
    now_ms: i64,
) -> (Message, RetryTarget) {
    let next = times(original).saturating_add(1);
    let max = original
        .attr(attr::MAX_RETRY_NUM)
        .and_then(|m| m.trim().parse::<u32>().ok())
        .unwrap_or(default_max_retry);
    let target = if next > max {
        RetryTarget::Dead
    } else {
        RetryTarget::Retry
    };
    let mut copy = original.clone();
    copy.header.subject = match target {
        RetryTarget::Retry => retry_subject(real_subject, group),
        RetryTarget::Dead => dead_retry_subject(real_subject, group),
    };
    copy.header.created_time = now_ms;
    copy.header.expire_or_schedule_time = now_ms;
    copy.header.flag &= !FLAG_DELAY;
    if copy.header.tags.is_empty() {
        copy.header.flag &= !FLAG_TAGS;
    } else {
        copy.header.flag |= FLAG_TAGS;
    }
    copy.set_attr(attr::TIMES, next.to_string());
    copy.set_attr(attr::CREATE_TIME, now_ms.to_string());
    // Client-local attributes never go on the wire.
    copy.remove_attr(attr::PULL_OFFSET);
    copy.remove_attr(attr::CORRUPT_DATA);
    (copy, target)
}

/// Sends retry copies to brokers.
#[derive(Debug)]
pub(crate) struct SendBack {
    meta: MetaClient,
    connections: Arc<BrokerConnections>,
    retry_delay: Duration,
    send_timeout: Duration,
}

impl SendBack {
    pub(crate) fn new(
        meta: MetaClient,
        connections: Arc<BrokerConnections>,
        retry_delay: Duration,
        send_timeout: Duration,
    ) -> Self {
        Self {
            meta,
            connections,
            retry_delay,
            send_timeout,
        }
    }

    /// Sends `copy` until a broker stores it. Returns `false` if `cancel` fired first.
    pub(crate) async fn send(
        &self,
        copy: &Message,
        real_subject: &str,
        cancel: &CancellationToken,
    ) -> bool {
        let mut round = 0u32;
        loop {
            let attempt = self.send_round(copy, real_subject, round > 0);
            let result = tokio::select! {
                _ = cancel.cancelled() => return false,
                r = attempt => r,
            };
            match result {
                Ok(()) => return true,
                Err(e) => tracing::warn!(
                    subject = copy.header.subject,
                    message_id = copy.header.message_id,
                    round,
                    error = %e,
                    "send-back failed, retrying later"
                ),
            }
            round = round.saturating_add(1);
            tokio::select! {
                _ = cancel.cancelled() => return false,
                _ = tokio::time::sleep(self.retry_delay) => {}
            }
        }
    }

    /// One round: up to 2 × groups attempts, starting at a random group.
    async fn send_round(
        &self,
        copy: &Message,
        real_subject: &str,
        refresh: bool,
    ) -> Result<(), ClientError> {
        let route = if refresh {
            self.meta
                .refresh(ClientType::Producer, real_subject, "")
                .await?
        } else {
            self.meta
                .route(ClientType::Producer, real_subject, "")
                .await?
        };
        let groups = &route.broker_groups;
        if groups.is_empty() {
            return Err(ClientError::NoRoute {
                subject: real_subject.to_owned(),
                client_type: ClientType::Producer,
            });
        }
        let start = fastrand::usize(..groups.len());
        let mut last = None;
        for i in 0..2 * groups.len() {
            let group = &groups[(start + i) % groups.len()];
            let addr: HostPort = match group.master.parse() {
                Ok(a) => a,
                Err(_) => {
                    tracing::warn!(broker = group.master, "unusable broker address in route");
                    continue;
                }
            };
            match self.send_once(&addr, copy).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClientError::NoRoute {
            subject: real_subject.to_owned(),
            client_type: ClientType::Producer,
        }))
    }

    async fn send_once(&self, addr: &HostPort, copy: &Message) -> Result<(), ClientError> {
        let mut body = BytesMut::with_capacity(copy.record_len());
        SendMessageRequest::encode_messages(std::slice::from_ref(copy), &mut body);
        let conn = self.connections.get(addr);
        let frame = conn
            .request_with_timeout(
                RequestCode::SendMessage,
                VERSION_9,
                body.freeze(),
                self.send_timeout,
            )
            .await?;
        if frame.header.code != ResponseCode::Success.as_i16() {
            return Err(ClientError::ServerResponse {
                addr: addr.to_string(),
                request: RequestCode::SendMessage.as_i16(),
                code: frame.header.code,
            });
        }
        let (response, _) =
            SendMessageResponse::decode(&frame.body).map_err(|source| ClientError::Protocol {
                addr: addr.to_string(),
                what: "SendMessageResponse",
                source,
            })?;
        for failure in response.failures {
            let ok = matches!(
                MessageProducerCode::from_i32(failure.code),
                Some(MessageProducerCode::Success | MessageProducerCode::MessageDuplicate)
            );
            if !ok && failure.message_id == copy.header.message_id {
                return Err(ClientError::SendBackRejected {
                    addr: addr.to_string(),
                    message_id: failure.message_id,
                    code: failure.code,
                    remark: failure.remark,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MessageHeader;

    fn original() -> Message {
        Message {
            header: MessageHeader {
                flag: FLAG_TAGS,
                created_time: 1,
                expire_or_schedule_time: 2,
                subject: "order.paid".into(),
                message_id: "id-1".into(),
                tags: vec!["vip".into()],
            },
            attrs: vec![
                ("orderId".into(), "42".into()),
                (attr::CREATE_TIME.into(), "1".into()),
                (attr::PULL_OFFSET.into(), "7".into()),
            ],
        }
    }

    #[test]
    fn first_failure_goes_to_retry_with_times_two() {
        let (copy, target) = build_retry_copy(&original(), "order.paid", "billing", 32, 1000);
        assert_eq!(target, RetryTarget::Retry);
        assert_eq!(copy.header.subject, "%RETRY%order.paid%billing");
        assert_eq!(copy.header.message_id, "id-1");
        assert_eq!(copy.header.tags, vec!["vip".to_owned()]);
        assert_eq!(copy.header.flag & FLAG_TAGS, FLAG_TAGS);
        assert_eq!(copy.header.created_time, 1000);
        assert_eq!(copy.attr(attr::TIMES), Some("2"));
        assert_eq!(copy.attr(attr::CREATE_TIME), Some("1000"));
        assert_eq!(copy.attr("orderId"), Some("42"));
        assert_eq!(copy.attr(attr::PULL_OFFSET), None);
        assert!(copy.validate().is_ok());
    }

    #[test]
    fn past_the_maximum_goes_to_dead_letter() {
        let mut m = original();
        m.set_attr(attr::TIMES, "32");
        let (copy, target) = build_retry_copy(&m, "order.paid", "billing", 32, 5);
        assert_eq!(target, RetryTarget::Dead);
        assert_eq!(copy.header.subject, "%DEAD_RETRY%order.paid%billing");
        assert_eq!(copy.attr(attr::TIMES), Some("33"));

        let mut m = original();
        m.set_attr(attr::TIMES, "31");
        assert_eq!(build_retry_copy(&m, "s", "g", 32, 5).1, RetryTarget::Retry);
    }

    #[test]
    fn producer_max_retry_attribute_wins() {
        let mut m = original();
        m.set_attr(attr::MAX_RETRY_NUM, "1");
        assert_eq!(build_retry_copy(&m, "s", "g", 32, 5).1, RetryTarget::Dead);
        m.set_attr(attr::MAX_RETRY_NUM, "not a number");
        assert_eq!(build_retry_copy(&m, "s", "g", 1, 5).1, RetryTarget::Dead);
        assert_eq!(build_retry_copy(&m, "s", "g", 2, 5).1, RetryTarget::Retry);
    }

    #[test]
    fn unreadable_times_count_as_one() {
        let mut m = original();
        m.set_attr(attr::TIMES, "x");
        assert_eq!(times(&m), 1);
        m.set_attr(attr::TIMES, "0");
        assert_eq!(times(&m), 1);
        let (copy, _) = build_retry_copy(&m, "s", "g", 32, 5);
        assert_eq!(copy.attr(attr::TIMES), Some("2"));
    }

    #[test]
    fn delay_flag_is_cleared() {
        let mut m = original();
        m.header.flag |= FLAG_DELAY;
        m.header.tags.clear();
        let (copy, _) = build_retry_copy(&m, "s", "g", 32, 5);
        assert_eq!(copy.header.flag & (FLAG_DELAY | FLAG_TAGS), 0);
    }
}
