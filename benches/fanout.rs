//! Topic fan-out to 1, 100 and 10,000 in-process recipients: the topic
//! actor's loop (one shared frame, a reference-count increment and a
//! non-waiting queue push per subscriber) plus the writers' dequeue. Guards
//! against per-recipient allocation or copying creeping into the hot path.
#![allow(missing_docs)]

use bytestring::ByteString;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hub_core::bench_support::FanoutFixture;

fn fanout(c: &mut Criterion) {
    let frame = ByteString::from(format!(
        r#"{{"type":"hub:message","topic":"bench","from":"pub","payload":{{"pad":"{}"}}}}"#,
        "x".repeat(100)
    ));
    let mut group = c.benchmark_group("topic_fanout");
    for n in [1usize, 100, 10_000] {
        let mut fixture = FanoutFixture::new(n, 1024);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let accepted = fixture.publish(black_box(&frame));
                fixture.drain();
                accepted
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
