//! A fixed-bucket histogram observed from many threads without a lock.
//!
//! Some histograms are observed once per frame per recipient (delivery
//! latency, frame size), on every worker thread at once. prometheus-client's
//! own histogram takes a mutex per observation, which on a fan-out to
//! thousands of sessions on two threads makes the lock's cache line bounce
//! once per recipient; even an uncontended atomic addition per observation
//! cost 5-8 % of fan-out throughput (measured). So each thread that observes
//! gets a shard of its own, on its own cache lines, that only it writes: an
//! observation is a plain load and store of two counters, no locked
//! instruction. Threads beyond the first `SHARDS - 1` share the last shard
//! with atomic additions (tests start many). Reading adds the shards up;
//! only the exposition (`export.rs`) reads.
//!
//! Model-checked with loom (`loom/`): observations racing each other and a
//! reader are all counted, and a reader never sees more than was observed.

use crate::sync::{thread_number, AtomicU64, Ordering::Relaxed};

/// Most buckets a histogram has, `+Inf` included.
const MAX_BUCKETS: usize = 16;

/// Shards per histogram: 32 × 256 bytes each. A worker pool larger than 31
/// threads shares the last one.
pub(crate) const SHARDS: usize = 32;

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

/// Observations collected on the stack, added to a histogram at once.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    counts: [u32; MAX_BUCKETS],
    sum: u64,
    any: bool,
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

    /// Records `value` in this thread's shard.
    pub(crate) fn observe(&self, value: u64) {
        self.observe_n(value, 1);
    }

    /// Records `value` `n` times (a frame fanned out to `n` queues).
    pub(crate) fn observe_n(&self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.add(bucket, n, value.wrapping_mul(n));
    }

    /// Counts `value` into `batch`, which [`Self::flush`] adds in one go:
    /// for a writer taking many frames at once.
    pub(crate) fn collect(&self, batch: &mut Batch, value: u64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        batch.counts[bucket] += 1;
        batch.sum = batch.sum.wrapping_add(value);
        batch.any = true;
    }

    /// Adds what `batch` collected, and empties it.
    pub(crate) fn flush(&self, batch: &mut Batch) {
        if !std::mem::take(&mut batch.any) {
            return;
        }
        let mut sum = std::mem::take(&mut batch.sum);
        for (bucket, count) in batch.counts.iter_mut().enumerate() {
            let n = std::mem::take(count);
            if n > 0 {
                self.add(bucket, u64::from(n), std::mem::take(&mut sum));
            }
        }
    }

    fn add(&self, bucket: usize, n: u64, sum: u64) {
        // This thread's shard in every histogram; shards below `SHARDS - 1`
        // are written by this thread alone.
        let index = thread_number(SHARDS - 1);
        let shard = &self.shards[index];
        if index < SHARDS - 1 {
            // Only this thread writes this shard: no other writer can come
            // between the load and the store. Readers see one or the other.
            let count = &shard.counts[bucket];
            count.store(count.load(Relaxed) + n, Relaxed);
            let total = shard.sum.load(Relaxed).wrapping_add(sum);
            shard.sum.store(total, Relaxed);
        } else {
            shard.counts[bucket].fetch_add(n, Relaxed);
            shard.sum.fetch_add(sum, Relaxed);
        }
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
