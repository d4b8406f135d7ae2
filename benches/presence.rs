//! A topic with 100,000 members: a `hub:presence` page of 100 (the range
//! read and the encoding of the answer), `hub:presence_stats`, and a
//! member joining and leaving. Guards the O(log n + page) and O(1) the
//! member list promises, whatever the topic's size. Prints what a member
//! costs in memory (resident growth while 100,000 are added, on Linux).
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hub_core::bench_support::PresenceFixture;

/// Resident memory of this process in bytes (Linux; 0 elsewhere).
fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn presence(c: &mut Criterion) {
    let before = resident_bytes();
    let names = PresenceFixture::new(100_000);
    let grown = resident_bytes().saturating_sub(before);
    // The addresses themselves are shared with the sessions in a hub; the
    // fixture allocates them too (8-byte names: about 24 bytes each).
    println!(
        "presence: 100000 members take {} bytes resident ({} per member, names included)",
        grown,
        grown / 100_000
    );
    drop(names);
    for n in [1_000, 100_000] {
        let mut fixture = PresenceFixture::new(n);
        let mut group = c.benchmark_group(format!("presence_{n}"));
        let mut i = 0usize;
        group.bench_function("page_100", |b| {
            b.iter(|| {
                i = i.wrapping_add(7919);
                fixture.page(black_box(i), 100)
            })
        });
        group.bench_function("stats", |b| b.iter(|| fixture.count()));
        group.bench_function("join_leave", |b| b.iter(|| fixture.join_leave()));
        group.finish();
    }
}

criterion_group!(benches, presence);
criterion_main!(benches);
