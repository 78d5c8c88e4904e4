//! Criterion benches of the wire codec (spec §1, §3): the per-message cost of SEND records,
//! batch splitting and frame splitting, reported as elements (messages or frames) per second.
//!
//! The bar for the message path is ≥ 2 M encode+decode per second on one core. Each message
//! path is measured three ways in the same run, so their ratios hold on a noisy machine:
//! owned (`RawMessage::to_message`, clones the header), owned by move (`into_message`), and the
//! borrowed view (`RecordRef`, no allocation).

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use qmq_core::protocol::frame::{DEFAULT_MAX_FRAME_LEN, VERSION_9};
use qmq_core::protocol::{
    Frame, Header, Message, MessageHeader, RawMessage, RecordRef, RequestCode, SendMessageRequest,
};

/// A typical producer message: subject, id, four attributes, one of them a 100-byte value.
fn typical_message() -> Message {
    Message {
        header: MessageHeader {
            flag: 0,
            created_time: 1_559_547_759_000,
            expire_or_schedule_time: 1_559_548_659_000,
            subject: "order.changed".into(),
            message_id: "190603.154239.10.0.0.1.3316.0".into(),
            tags: Vec::new(),
        },
        attrs: vec![
            ("qmq_createTime".into(), "1559547759000".into()),
            ("qmq_appCode".into(), "demo".into()),
            ("orderId".into(), "42".into()),
            ("payload".into(), "p".repeat(100)),
        ],
    }
}

fn encoded(msg: &Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(msg.record_len());
    msg.encode_record(&mut buf);
    buf.freeze()
}

fn decode(record: &Bytes) -> Message {
    let (raw, _) = RawMessage::decode(record).expect("valid record");
    assert!(raw.crc_matches());
    raw.to_message().expect("valid attrs")
}

fn decode_into(record: Bytes) -> Message {
    let (raw, _) = RawMessage::decode(&record).expect("valid record");
    assert!(raw.crc_matches());
    raw.into_message().expect("valid attrs")
}

/// The view path: full validation (lengths, UTF-8, CRC), then a read of every field so the
/// decode cannot be optimised away.
fn decode_view(record: &[u8]) -> usize {
    let (rec, _) = RecordRef::decode(record).expect("valid record");
    assert!(rec.crc_matches());
    let view = rec.message();
    view.subject().len() + view.message_id().len() + view.attrs().len() + view.tags().len()
}

fn message(c: &mut Criterion) {
    let msg = typical_message();
    let record = encoded(&msg);
    let mut g = c.benchmark_group("message");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode_record", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_record(&mut buf);
            black_box(buf.len());
        });
    });
    g.bench_function("decode_crc_to_message", |b| {
        b.iter(|| black_box(decode(black_box(&record))));
    });
    g.bench_function("decode_crc_view", |b| {
        b.iter(|| black_box(decode_view(black_box(&record))));
    });
    g.bench_function("decode_header_crc", |b| {
        b.iter(|| {
            let (raw, _) = RawMessage::decode(black_box(&record)).expect("valid record");
            black_box(raw.crc_matches())
        });
    });
    g.bench_function("encode_decode", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_record(&mut buf);
            let record = buf.split().freeze();
            black_box(decode(&record));
        });
    });
    g.bench_function("encode_decode_into_message", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_record(&mut buf);
            black_box(decode_into(buf.split().freeze()));
        });
    });
    g.bench_function("encode_decode_view", |b| {
        let mut buf = BytesMut::with_capacity(4096);
        b.iter(|| {
            buf.clear();
            black_box(&msg).encode_record(&mut buf);
            black_box(decode_view(&buf));
        });
    });
    g.finish();
}

fn send_batch(c: &mut Criterion) {
    let messages: Vec<Message> = (0..30)
        .map(|i| {
            let mut m = typical_message();
            m.header.message_id = format!("190603.154239.10.0.0.1.3316.{i}");
            m
        })
        .collect();
    let mut body = BytesMut::new();
    SendMessageRequest::encode_messages(&messages, &mut body);
    let body = body.freeze();
    let mut g = c.benchmark_group("send_batch_30");
    g.throughput(Throughput::Elements(messages.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| black_box(SendMessageRequest::decode(black_box(&body)).expect("valid")));
    });
    g.bench_function("decode_check_crc", |b| {
        b.iter(|| {
            let req = SendMessageRequest::decode(black_box(&body)).expect("valid");
            assert!(req.messages.iter().all(RawMessage::crc_matches));
            black_box(req)
        });
    });
    g.finish();
}

fn frames(c: &mut Criterion) {
    const FRAMES: usize = 64;
    let body = encoded(&typical_message());
    let mut wire = BytesMut::new();
    for opaque in 0..FRAMES as i32 {
        Frame::new(
            Header::request(RequestCode::SendMessage, VERSION_9, opaque),
            body.clone(),
        )
        .encode(&mut wire);
    }
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Elements(FRAMES as u64));
    g.bench_function("decode_from_64", |b| {
        b.iter_batched_ref(
            || wire.clone(),
            |buf| {
                while let Some(frame) =
                    Frame::decode_from(buf, DEFAULT_MAX_FRAME_LEN).expect("valid")
                {
                    black_box(frame);
                }
            },
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, message, send_batch, frames);
criterion_main!(benches);
