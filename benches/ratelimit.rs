//! The per-session rate-limiter check every counted frame pays, allowed and
//! refused. Guards the limiter staying a few nanoseconds.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use hub_core::bench_support::rate_limiter;

fn ratelimit(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit_check");
    let open = rate_limiter(u32::MAX, u32::MAX).expect("enabled");
    group.bench_function("allowed", |b| b.iter(|| open.check().is_ok()));
    let shut = rate_limiter(1, 1).expect("enabled");
    let _ = shut.check();
    group.bench_function("refused", |b| b.iter(|| shut.check().is_err()));
    group.finish();
}

criterion_group!(benches, ratelimit);
criterion_main!(benches);
