//! The seams where more than one node, and durable delivery, plug in. Each is
//! a trait with the in-memory implementation one node runs today:
//!
//! - [`AddressDirectory`](addresses::AddressDirectory) — who holds an
//!   address, under a lease, with a fencing epoch; the eviction decision.
//!   Used by the registry actor.
//! - [`Broker`](broker::Broker) — delivery to other nodes: publications,
//!   and direct messages for addresses held elsewhere. Used by the topic
//!   directory (interest in a topic) and the router (publications).
//! - [`SharedPresence`](presence::SharedPresence) — topic members as the
//!   hub sees them: one node's topics (memory), every node's (Redis).
//! - [`HistoryStore`](history::HistoryStore) — where a topic's history is
//!   numbered, kept and read: the topic's own on one node, Redis for the
//!   whole hub.
//! - [`Occupancy`](occupancy::Occupancy) — whether a topic has subscribers
//!   anywhere in the hub, for the lifecycle's `occupied` and `vacated`.
//! - [`census`] — questions asked of every node at once (its topics, its
//!   figures) and what each answers.
//! - [`EngineEvents`](events::EngineEvents) — the other way: what an
//!   engine shared by many nodes tells this node's actors (publications
//!   from elsewhere, evictions, presence, its link restored).
//!
//! Stored direct messages go through `durable::ledger::InboxLedger` (one
//! node's `NodeLedger` over the store, memory or redb; Redis's
//! `RedisLedger`), under one inbox actor, the inbox desk.
//!
//! Method shapes are the ones a networked implementation (Redis) needs:
//! every call answers through an [`Answer`] (ready at once in memory, a
//! future over the network), takes batches where a node would otherwise make
//! one round trip per item, and is idempotent, so a retry after a lost reply
//! does no harm. The in-memory implementations answer at once without
//! allocating, so the hot path pays nothing for the seam.

pub(crate) mod addresses;
pub(crate) mod broker;
pub(crate) mod census;
#[cfg(feature = "redis")]
pub(crate) mod events;
pub(crate) mod history;
pub(crate) mod occupancy;
pub(crate) mod presence;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;

/// One node of a hub: a process running the hub's actors.
/// Random per process, so two nodes (or one node before and after a
/// restart) never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct NodeId(pub(crate) u64);

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl NodeId {
    /// A fresh random id.
    pub(crate) fn random() -> Self {
        Self(uuid::Uuid::new_v4().as_u64_pair().0)
    }
}

/// A seam's answer: ready now (in memory: no allocation, no task), or later
/// (over the network).
#[must_use = "an answer does nothing unless awaited or taken"]
pub(crate) enum Answer<T> {
    /// Answered at once. `None` once the answer has been taken.
    Now(Option<T>),
    /// Answered when the future completes. Only networked implementations
    /// (a Redis directory, broker or store: the multi-node issue) answer so.
    #[allow(dead_code)]
    Later(BoxFuture<'static, T>),
}

impl<T> std::fmt::Debug for Answer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Now(_) => f.write_str("Answer::Now"),
            Self::Later(_) => f.write_str("Answer::Later"),
        }
    }
}

impl<T> Answer<T> {
    /// An answer given at once.
    pub(crate) fn now(value: T) -> Self {
        Self::Now(Some(value))
    }

    /// The answer, if it was given at once; else the answer itself back.
    pub(crate) fn into_now(self) -> Result<T, Self> {
        match self {
            Self::Now(Some(value)) => Ok(value),
            other => Err(other),
        }
    }
}

/// Lets a call whose outcome nobody waits for run to its end: nothing to do
/// when it answered at once, a task of its own when it answers later. A
/// failure is logged with `what` — the caller has no one to tell.
pub(crate) fn detach(answer: Answer<Result<(), crate::error::HubError>>, what: &'static str) {
    match answer.into_now() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, what, "seam call failed"),
        Err(later) => {
            actix_rt::spawn(async move {
                if let Err(e) = later.await {
                    tracing::warn!(error = %e, what, "seam call failed");
                }
            });
        }
    }
}

impl<T: Unpin> Future for Answer<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut *self {
            Self::Now(value) => {
                Poll::Ready(value.take().expect("an Answer polled after it was ready"))
            }
            Self::Later(future) => future.as_mut().poll(cx),
        }
    }
}
