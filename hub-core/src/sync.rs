//! The atomics of the hub's lock-free parts (`metrics/histogram.rs`,
//! `outbox/budget.rs`, `session/read_switch.rs`). Those files name their atomics through this module
//! so that `loom/` can compile the very same files against loom's atomics
//! and model-check their interleavings (`cargo test -p loom-models`); here
//! they are std's.

pub(crate) use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};

/// This thread's number among the threads that asked, from 0; the threads
/// past `max` all get `max`.
pub(crate) fn thread_number(max: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    NUMBER.with(|n| (*n).min(max))
}

/// futures' `AtomicWaker`, with the method names of loom's.
#[derive(Debug, Default)]
pub(crate) struct AtomicWaker(futures_util::task::AtomicWaker);

impl AtomicWaker {
    /// Wakes `waker` on the next [`Self::wake`], in place of any before.
    pub(crate) fn register_by_ref(&self, waker: &std::task::Waker) {
        self.0.register(waker);
    }

    /// Wakes the waker registered last, if any.
    pub(crate) fn wake(&self) {
        self.0.wake();
    }
}
