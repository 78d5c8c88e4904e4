//! PULL_MESSAGE (spec §4): SUCCESS with `i64 first pull offset, i64 -1` and the stored payloads,
//! or NO_MESSAGE.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use qmq_core::protocol::frame::VERSION_8;
use qmq_core::protocol::message::FLAG_TAGS;
use qmq_core::protocol::{
    Frame, Header, MessageHeader, PullMessageResponse, PullRequest, ResponseCode,
};
use tracing::{error, instrument, warn};

use crate::broker::Broker;

/// Handles one PULL, long-polling per the request's timeout. Bad parameters get NO_MESSAGE
/// (QMQ), an undecodable body BROKER_ERROR. Clients older than version 8 get payloads without
/// their tag list (flag bit 2 is left set, as QMQ does).
#[instrument(skip_all, fields(conn = %peer))]
pub async fn handle(broker: &Broker, request: &Frame, peer: SocketAddr) -> Option<Frame> {
    let version = request.header.version;
    let pull = match PullRequest::decode(&request.body, version) {
        Ok((pull, _)) => pull,
        Err(err) => {
            warn!(cause = %err, "undecodable PULL body");
            return Some(Frame::empty_response(
                &request.header,
                ResponseCode::BrokerError,
            ));
        }
    };
    let batch = match broker.consumers().pull(&pull).await {
        Ok(Some(batch)) => batch,
        Ok(None) => {
            return Some(Frame::empty_response(
                &request.header,
                ResponseCode::NoMessage,
            ));
        }
        Err(err) => {
            error!(subject = %pull.subject, group = %pull.group, consumer_id = %pull.consumer_id, cause = %err, "pull failed");
            return Some(Frame::empty_response(
                &request.header,
                ResponseCode::BrokerError,
            ));
        }
    };
    let len =
        PullMessageResponse::PREFIX_LEN + batch.payloads.iter().map(Bytes::len).sum::<usize>();
    let mut body = BytesMut::with_capacity(len);
    PullMessageResponse::encode_prefix(batch.first_pull_offset, &mut body);
    for payload in &batch.payloads {
        if version < VERSION_8 {
            body.put_slice(&strip_tags(payload));
        } else {
            body.put_slice(payload);
        }
    }
    Some(Frame::new(
        Header::response_to(&request.header, ResponseCode::Success),
        body.freeze(),
    ))
}

/// The payload without its tag list (for clients before version 8).
fn strip_tags(payload: &Bytes) -> Bytes {
    let Ok((header, attrs, used)) = MessageHeader::decode_payload(payload) else {
        return payload.clone();
    };
    if header.flag & FLAG_TAGS == 0 {
        return payload.clone();
    }
    let head_end = 1 + 8 + 8 + 2 + header.subject.len() + 2 + header.message_id.len();
    let (Some(head), Some(tail)) = (
        payload.get(..head_end),
        attrs
            .start
            .checked_sub(4)
            .and_then(|at| payload.get(at..used)),
    ) else {
        return payload.clone();
    };
    let mut out = BytesMut::with_capacity(head.len() + tail.len());
    out.put_slice(head);
    out.put_slice(tail);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qmq_core::protocol::Message;

    #[test]
    fn strip_tags_keeps_flag_and_attrs() {
        let mut m = Message::default();
        m.header.flag = FLAG_TAGS;
        m.header.subject = "s".into();
        m.header.message_id = "id".into();
        m.header.tags = vec!["a".into(), "b".into()];
        m.set_attr("k", "v");
        let mut full = BytesMut::new();
        m.encode_payload(&mut full);
        let stripped = strip_tags(&full.freeze());
        let mut expected = m.clone();
        expected.header.tags.clear();
        expected.header.flag = 0;
        let mut want = BytesMut::new();
        expected.encode_payload(&mut want);
        // Same bytes as a tag-less message except the flag, which keeps bit 2.
        assert_eq!(stripped[0], FLAG_TAGS);
        assert_eq!(&stripped[1..], &want[1..]);
    }
}
