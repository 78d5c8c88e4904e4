//! Proptest strategies for protocol values, kept within the limits the wire imposes.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use qmq_core::protocol::codec::MAX_STR16_LEN;
use qmq_core::protocol::message::{FLAG_TAGS, MAX_TAGS};
use qmq_core::protocol::{
    AckRequest, BrokerAcquireMetaRequest, BrokerAcquireMetaResponse, BrokerGroupInfo,
    BrokerRegisterRequest, BrokerRequestType, BrokerRole, BrokerState, ClientRegisterRequest,
    ClientType, ConsumeFromWhere, ConsumeManageRequest, Frame, Header, Message, MessageHeader,
    MetaInfoResponse, OnOfflineState, PullFilter, PullMessageResponse, PullRequest,
    SendMessageResponse, SendResult, TagType,
};

/// A string of up to `max_chars` arbitrary Unicode scalar values (control characters, astral
/// planes and all), so at most `4 * max_chars` UTF-8 bytes.
pub fn text(max_chars: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max_chars).prop_map(|chars| chars.into_iter().collect())
}

/// An attribute value: usually short, sometimes right at or near the 32767-byte `str16` limit
/// (ASCII, and two-byte characters that end one byte short of it).
pub fn attr_value() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => text(64),
        1 => Just("x".repeat(MAX_STR16_LEN)),
        1 => Just("é".repeat(MAX_STR16_LEN / 2)),
        1 => (0..=MAX_STR16_LEN).prop_map(|n| "v".repeat(n)),
    ]
}

/// A message with any flag byte (delay and tag bits set or not), tags only when the tag bit is
/// set, up to `max_attrs` attributes drawn from `value`.
pub fn message_with(
    value: impl Strategy<Value = String>,
    max_attrs: usize,
) -> impl Strategy<Value = Message> {
    (
        any::<u8>(),
        any::<i64>(),
        any::<i64>(),
        text(40),
        text(25), // ≤ 100 bytes: the message-id limit
        vec(text(16), 0..=MAX_TAGS),
        vec((text(20), value), 0..=max_attrs),
    )
        .prop_map(
            |(flag, created, expire, subject, id, tags, attrs)| Message {
                header: MessageHeader {
                    flag,
                    created_time: created,
                    expire_or_schedule_time: expire,
                    subject,
                    message_id: id,
                    tags: if flag & FLAG_TAGS != 0 {
                        tags
                    } else {
                        Vec::new()
                    },
                },
                attrs,
            },
        )
}

/// A message as the brief describes it: 0–10 tags, 0–20 attributes, values up to the limit.
pub fn message() -> impl Strategy<Value = Message> {
    message_with(attr_value(), 20)
}

/// A message with short values, for batches (30 messages at the limit would be 20 MB each).
pub fn small_message() -> impl Strategy<Value = Message> {
    message_with(text(64), 20)
}

pub fn tag_type() -> impl Strategy<Value = TagType> {
    prop_oneof![Just(TagType::NoTag), Just(TagType::Or), Just(TagType::And)]
}

pub fn tag_filter() -> impl Strategy<Value = PullFilter> {
    (tag_type(), vec(text(16), 0..=MAX_TAGS))
        .prop_map(|(tag_type, tags)| PullFilter::Tag { tag_type, tags })
}

pub fn pull_filter() -> impl Strategy<Value = PullFilter> {
    prop_oneof![
        tag_filter(),
        (text(16), text(16))
            .prop_map(|(env, sub_env)| PullFilter::SubEnvIsolation { env, sub_env }),
    ]
}

/// A pull request carrying `filters`.
pub fn pull_request(
    filters: impl Strategy<Value = Vec<PullFilter>>,
) -> impl Strategy<Value = PullRequest> {
    (
        (text(40), text(40), text(40)),
        any::<i32>(),
        any::<[i64; 4]>(),
        any::<bool>(),
        filters,
    )
        .prop_map(
            |(
                (subject, group, consumer_id),
                request_num,
                [offset, begin, last, timeout],
                is_broadcast,
                filters,
            )| {
                PullRequest {
                    subject,
                    group,
                    consumer_id,
                    request_num,
                    offset,
                    pull_offset_begin: begin,
                    pull_offset_last: last,
                    timeout_millis: timeout,
                    is_broadcast,
                    filters,
                }
            },
        )
}

pub fn ack_request() -> impl Strategy<Value = AckRequest> {
    (
        text(40),
        text(40),
        text(40),
        any::<i64>(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_map(
            |(subject, group, consumer_id, begin, last, is_broadcast)| AckRequest {
                subject,
                group,
                consumer_id,
                pull_offset_begin: begin,
                pull_offset_last: last,
                is_broadcast,
            },
        )
}

pub fn client_register_request() -> impl Strategy<Value = ClientRegisterRequest> {
    vec((text(20), text(40)), 0..=20).prop_map(|entries| ClientRegisterRequest { entries })
}

pub fn broker_state() -> impl Strategy<Value = BrokerState> {
    prop_oneof![
        Just(BrokerState::Rw),
        Just(BrokerState::R),
        Just(BrokerState::W),
        Just(BrokerState::Nrw)
    ]
}

pub fn client_type() -> impl Strategy<Value = ClientType> {
    prop_oneof![
        Just(ClientType::Producer),
        Just(ClientType::Consumer),
        Just(ClientType::Other),
        Just(ClientType::DelayProducer)
    ]
}

pub fn meta_info_response() -> impl Strategy<Value = MetaInfoResponse> {
    let group = (text(20), text(30), any::<i64>(), broker_state()).prop_map(
        |(group_name, master, update_time, state)| BrokerGroupInfo {
            group_name,
            master,
            update_time,
            state,
        },
    );
    (
        any::<i64>(),
        text(40),
        text(40),
        any::<bool>(),
        client_type(),
        vec(group, 0..=10),
    )
        .prop_map(
            |(timestamp, subject, consumer_group, offline, client_type, broker_groups)| {
                MetaInfoResponse {
                    timestamp,
                    subject,
                    consumer_group,
                    on_offline_state: if offline {
                        OnOfflineState::Offline
                    } else {
                        OnOfflineState::Online
                    },
                    client_type,
                    broker_groups,
                }
            },
        )
}

pub fn broker_role() -> impl Strategy<Value = BrokerRole> {
    (0..=7i32).prop_map(|code| BrokerRole::from_code(code).expect("0..=7 are roles"))
}

pub fn broker_register_request() -> impl Strategy<Value = BrokerRegisterRequest> {
    (
        (0..=2i32).prop_map(|c| BrokerRequestType::from_code(c).expect("0..=2 are types")),
        text(20),
        text(30),
        broker_role(),
        broker_state(),
    )
        .prop_map(
            |(request_type, group_name, broker_address, broker_role, broker_state)| {
                BrokerRegisterRequest {
                    request_type,
                    group_name,
                    broker_address,
                    broker_role,
                    broker_state,
                }
            },
        )
}

pub fn broker_acquire_meta_request() -> impl Strategy<Value = BrokerAcquireMetaRequest> {
    (text(40), any::<i32>()).prop_map(|(hostname, serve_port)| BrokerAcquireMetaRequest {
        hostname,
        serve_port,
    })
}

pub fn broker_acquire_meta_response() -> impl Strategy<Value = BrokerAcquireMetaResponse> {
    (text(20), text(30), broker_role()).prop_map(|(group_name, master, role)| {
        BrokerAcquireMetaResponse {
            group_name,
            master,
            role,
        }
    })
}

pub fn consume_manage_request() -> impl Strategy<Value = ConsumeManageRequest> {
    (text(40), text(40), any::<bool>()).prop_map(|(subject, group, earliest)| {
        ConsumeManageRequest {
            subject,
            group,
            consume_from_where: if earliest {
                ConsumeFromWhere::Earliest
            } else {
                ConsumeFromWhere::Latest
            },
        }
    })
}

pub fn send_message_response() -> impl Strategy<Value = SendMessageResponse> {
    let result =
        (text(25), any::<i32>(), text(40)).prop_map(|(message_id, code, remark)| SendResult {
            message_id,
            code,
            remark,
        });
    vec(result, 0..=30).prop_map(|failures| SendMessageResponse { failures })
}

pub fn pull_message_response() -> impl Strategy<Value = PullMessageResponse> {
    (any::<i64>(), any::<i64>(), vec(small_message(), 0..=10)).prop_map(
        |(pull_log_offset, consumer_offset, messages)| PullMessageResponse {
            pull_log_offset,
            consumer_offset,
            messages,
        },
    )
}

/// A frame with any header and a short body.
pub fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<(i16, i16, i32, i32, i16)>(),
        vec(any::<u8>(), 0..=300),
    )
        .prop_map(|((code, version, opaque, flag, request_code), body)| {
            Frame::new(
                Header {
                    code,
                    version,
                    opaque,
                    flag,
                    request_code,
                },
                Bytes::from(body),
            )
        })
}
