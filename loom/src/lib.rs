//! Model checks of hub-core's lock-free parts with [loom]: the very files
//! hub-core compiles (`metrics/histogram.rs`, `outbox/budget.rs`,
//! `session/read_switch.rs`), included
//! here by path and built against loom's atomics (this crate's `sync`
//! stands where hub-core's `sync.rs` names std's), so every interleaving
//! of their atomic operations a bounded model allows is explored.
//!
//! `cargo test -p loom-models` runs the models (`models.rs`).

#![allow(dead_code, unreachable_pub, missing_docs)]

/// What hub-core's `sync.rs` provides, from loom.
pub(crate) mod sync {
    pub(crate) use loom::future::AtomicWaker;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};

    /// This thread's number among the threads that asked, from 0 (reset
    /// for each execution of a model); past `max` all get `max`.
    pub(crate) fn thread_number(max: usize) -> usize {
        loom::lazy_static! {
            static ref NEXT: AtomicUsize = AtomicUsize::new(0);
        }
        loom::thread_local! {
            static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        NUMBER.with(|n| (*n).min(max))
    }
}

#[path = "../../hub-core/src/metrics/histogram.rs"]
pub(crate) mod histogram;

#[path = "../../hub-core/src/outbox/budget.rs"]
pub(crate) mod budget;

#[path = "../../hub-core/src/session/read_switch.rs"]
pub(crate) mod read_switch;

#[cfg(test)]
mod models;
