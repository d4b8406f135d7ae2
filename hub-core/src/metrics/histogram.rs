//! A fixed-bucket histogram observed from many threads without a lock.
//!
//! Some histograms are observed once per frame per recipient (delivery
//! latency, frame size), on every worker thread at once. prometheus-client's
//! own histogram takes a mutex per observation, which on a fan-out to
//! thousands of sessions on two threads makes the lock's cache line bounce
//! once per recipient. Here the counts are split into shards, each on its own
//! cache lines, picked by a key the caller has at hand (a session's queue
//! address): an observation is two relaxed additions, which two threads make
//! on the same line only when their keys meet in one shard. Reading adds the
//! shards up; only the exposition (`export.rs`) reads.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Most buckets a histogram has, `+Inf` included.
const MAX_BUCKETS: usize = 16;

/// Shards per histogram (a power of two): 16 × 256 bytes each.
const SHARDS: usize = 16;

/// Delivery latency bounds, in microseconds (50 µs to 2.5 s).
pub(crate) const LATENCY_MICROS: &[u64] = &[
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000,
];

/// Fan-out size bounds, in recipients.
pub(crate) const RECIPIENTS: &[u64] = &[
    0, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000,
];

/// Outbound queue depth bounds, in frames.
pub(crate) const QUEUE_FRAMES: &[u64] = &[
    0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_024, 2_048, 4_096, 8_192,
];

/// Frame size bounds, in bytes (64 B to 1 MiB).
pub(crate) const FRAME_BYTES: &[u64] = &[
    64, 128, 256, 512, 1_024, 2_048, 4_096, 8_192, 16_384, 32_768, 65_536, 131_072, 262_144,
    524_288, 1_048_576,
];

/// One shard's counts, alone on its cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    /// Observations per bucket (not cumulative); the last is `+Inf`.
    counts: [AtomicU64; MAX_BUCKETS],
    sum: AtomicU64,
}

/// See the module docs. Values are integers in the histogram's unit
/// (microseconds, bytes, frames); the exposition scales them.
#[derive(Debug)]
pub(crate) struct Histogram {
    /// Upper bounds (inclusive), ascending; at most `MAX_BUCKETS - 1`.
    bounds: &'static [u64],
    shards: Box<[Shard]>,
}

/// What a histogram holds, added up over its shards.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Totals {
    /// (upper bound, observations in that bucket alone), `+Inf` last.
    pub(crate) buckets: Vec<(u64, u64)>,
    pub(crate) count: u64,
    pub(crate) sum: u64,
}

impl Histogram {
    pub(crate) fn new(bounds: &'static [u64]) -> Self {
        assert!(bounds.len() < MAX_BUCKETS, "too many buckets");
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        let shards = (0..SHARDS)
            .map(|_| Shard {
                counts: std::array::from_fn(|_| AtomicU64::new(0)),
                sum: AtomicU64::new(0),
            })
            .collect();
        Self { bounds, shards }
    }

    /// Records `value`, in the shard `key` picks.
    pub(crate) fn observe(&self, key: usize, value: u64) {
        // Fibonacci hashing: the key's high product bits pick the shard, so
        // aligned addresses and consecutive ids spread alike.
        let mixed = (key as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let shard = &self.shards[(mixed >> (64 - SHARDS.trailing_zeros())) as usize];
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        shard.counts[bucket].fetch_add(1, Relaxed);
        shard.sum.fetch_add(value, Relaxed);
    }

    /// The counts added up over the shards.
    pub(crate) fn totals(&self) -> Totals {
        let mut buckets: Vec<(u64, u64)> = self
            .bounds
            .iter()
            .chain(std::iter::once(&u64::MAX))
            .map(|&bound| (bound, 0))
            .collect();
        let mut sum = 0u64;
        for shard in self.shards.iter() {
            for (bucket, count) in buckets.iter_mut().zip(&shard.counts) {
                bucket.1 += count.load(Relaxed);
            }
            sum = sum.wrapping_add(shard.sum.load(Relaxed));
        }
        let count = buckets.iter().map(|b| b.1).sum();
        Totals {
            buckets,
            count,
            sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lands_in_the_first_bucket_whose_bound_holds_it() {
        let h = Histogram::new(&[1, 10, 100]);
        for (key, value) in [
            (0, 0),
            (64, 1),
            (4096, 2),
            (1 << 20, 10),
            (3, 100),
            (7, 101),
        ] {
            h.observe(key, value);
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
    fn observations_from_many_threads_all_count() {
        let h = std::sync::Arc::new(Histogram::new(RECIPIENTS));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000usize {
                        h.observe(i * 64 + t, 3);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let totals = h.totals();
        assert_eq!(totals.count, 40_000);
        assert_eq!(totals.sum, 120_000);
    }
}
