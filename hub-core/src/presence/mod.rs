//! Presence, on this node: who is in a topic ([`members::Members`], kept by
//! each topic of a namespace with `track_presence`) and who hears an address
//! come online and go offline ([`watchers::Watchers`], kept by the
//! registry). Neither is an actor: each is state its owning actor changes
//! inside its handlers, so a join, a leave and a page of members never
//! interleave.
//!
//! Whether an address is online is the address directory's decision (its
//! leases and grace windows, `seams/addresses.rs`); the registry hands each
//! transition it is told of to the watchers. A topic's members linger for
//! the same grace window when their session drops, so a reconnect that
//! resubscribes in time is seen by no one.

pub(crate) mod members;
pub(crate) mod watchers;

use std::sync::Arc;

use serde_json::value::RawValue;

/// Who a subscriber is, for a topic that tracks presence.
#[derive(Debug, Clone)]
pub(crate) struct Membership {
    /// The subscriber's address.
    pub(crate) address: Arc<str>,
    /// Its identity's `info`, shown to those who look.
    pub(crate) info: Option<Arc<RawValue>>,
    /// It hears `hub:join` / `hub:leave` (the namespace has `join_leave`
    /// and it has the `presence` right).
    pub(crate) listens: bool,
}
