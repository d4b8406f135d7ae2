//! The histogram's unit tests (apart from `histogram.rs`, which `loom/`
//! compiles on its own).

use super::histogram::*;

#[test]
fn a_value_lands_in_the_first_bucket_whose_bound_holds_it() {
    let h = Histogram::new(&[1, 10, 100]);
    for value in [0, 1, 2, 10, 100, 101] {
        h.observe(value);
    }
    let totals = h.totals();
    assert_eq!(
        totals.buckets,
        vec![(1, 2), (10, 2), (100, 1), (u64::MAX, 1)],
        "le is inclusive; above the last bound is +Inf"
    );
    assert_eq!(totals.count, 6);
    assert_eq!(totals.sum, 214);
}

#[test]
fn a_batch_and_repeated_observations_count_like_single_ones() {
    let one = Histogram::new(&[1, 10, 100]);
    let other = Histogram::new(&[1, 10, 100]);
    let mut batch = Batch::default();
    for value in [0, 5, 5, 50, 500] {
        one.observe(value);
        other.collect(&mut batch, value);
    }
    other.flush(&mut batch);
    other.flush(&mut batch);
    assert_eq!(one.totals(), other.totals(), "flushed once");
    one.observe_n(7, 3);
    for _ in 0..3 {
        other.observe(7);
    }
    assert_eq!(one.totals(), other.totals());
}

#[test]
fn observations_from_many_threads_all_count() {
    let h = std::sync::Arc::new(Histogram::new(RECIPIENTS));
    // More threads than shards: the last shard is shared, and exact too.
    let threads: Vec<_> = (0..SHARDS + 8)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    h.observe(3);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let totals = h.totals();
    assert_eq!(totals.count, (SHARDS as u64 + 8) * 10_000);
    assert_eq!(totals.sum, (SHARDS as u64 + 8) * 30_000);
}
