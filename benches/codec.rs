//! Frame decode and encode, small and 64 KiB. Guards the per-frame cost every
//! request pays before any actor sees it (decode borrows, payloads stay raw).
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use hub_core::protocol::server::Message;
use hub_core::protocol::{Request, ServerFrame};
use serde_json::value::RawValue;

fn frames() -> Vec<(&'static str, String)> {
    let small =
        r#"{"type":"hub:publish","id":17,"topic":"room.42","payload":{"text":"hello","n":1}}"#;
    let big = format!(
        r#"{{"type":"hub:publish","id":17,"topic":"room.42","payload":{{"blob":"{}"}}}}"#,
        "x".repeat(64 * 1024 - 100)
    );
    vec![("small", small.to_owned()), ("64KiB", big)]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, text) in frames() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| Request::decode(black_box(&text)).map(|r| r.id))
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_message");
    for (name, text) in frames() {
        let Ok(request) = Request::decode(&text) else {
            continue;
        };
        let hub_core::protocol::ClientFrame::Publish { payload, .. } = request.frame else {
            continue;
        };
        let payload: &RawValue = &payload;
        group.throughput(Throughput::Bytes(payload.get().len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                ServerFrame::Message(Message {
                    topic: Some("room.42".into()),
                    from: "alice".into(),
                    correlation_id: None,
                    in_reply_to: None,
                    seq: None,
                    offset: None,
                    payload: std::borrow::Cow::Borrowed(black_box(payload)),
                })
                .to_json()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
