//! The QMQ wire protocol as a pure codec: no I/O, no async, no server types.
//!
//! Layout of every frame is in [`frame`]; message records in [`message`], with borrowed,
//! allocation-free views of them in [`message_ref`]; each command body in [`command`]. Decoders take byte slices and return the value plus the bytes used; they check
//! every length against the input, so bad bytes yield a [`ProtocolError`], never a panic.
//! Encoders append to a `BytesMut` and have a matching `encoded_len`.
//!
//! Spec references (§N) are to `shared/docs/qmq-wire-protocol.md`.

pub mod codec;
pub mod command;
pub mod error;
pub mod frame;
pub mod message;
pub mod message_ref;
pub mod names;

#[cfg(test)]
mod golden_tests;

pub use command::ack::AckRequest;
pub use command::broker_acquire_meta::{BrokerAcquireMetaRequest, BrokerAcquireMetaResponse};
pub use command::broker_register::{BrokerRegisterRequest, BrokerRequestType, BrokerRole};
pub use command::client_register::{
    BrokerGroupInfo, BrokerState, ClientRegisterRequest, ClientRequestType, ClientType,
    MetaInfoResponse, OnOfflineState,
};
pub use command::consume_manage::{ConsumeFromWhere, ConsumeManageRequest};
pub use command::pull_message::{PullFilter, PullMessageResponse, PullRequest, TagType};
pub use command::send_message::{
    MessageProducerCode, SendMessageRequest, SendMessageResponse, SendResult,
};
pub use error::ProtocolError;
pub use frame::{Frame, Header, RequestCode, ResponseCode};
pub use message::{Message, MessageHeader, RawMessage};
pub use message_ref::{MessageRef, RecordRef};
