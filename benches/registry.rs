//! The registry with 50,000 addresses: the lookup every direct send does, an
//! eviction (same address, new session), and a register + unregister pair
//! (a connect and a disconnect). Guards the O(1)/O(log n) costs the registry
//! actor promises.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use hub_core::bench_support::RegistryFixture;

fn registry(c: &mut Criterion) {
    let mut fixture = RegistryFixture::new(50_000);
    let mut group = c.benchmark_group("registry_50k");
    let mut i = 0usize;
    group.bench_function("lookup", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            fixture.lookup(black_box(i))
        })
    });
    group.bench_function("evict", |b| {
        b.iter(|| {
            i = i.wrapping_add(7919);
            fixture.evict(black_box(i))
        })
    });
    group.bench_function("register_unregister", |b| {
        b.iter(|| fixture.register_unregister())
    });
    group.finish();
}

criterion_group!(benches, registry);
criterion_main!(benches);
