//! Directory answers applied in the order the registry asked for them.
//!
//! A directory in memory answers at once, and its answer is applied at
//! once. A networked one (Redis) answers later; the registry does not wait
//! for one claim before handling its next message (a burst of connects
//! would cost a round trip each), but applies the answers in the order it
//! asked, so the endpoint map goes through the same states as if it had
//! waited: a release asked after a claim is applied after it. Up to
//! `max_in_flight` answers (`redis_claims_in_flight`) are awaited at once;
//! beyond, the registry waits for the newest before taking another
//! message, which paces the connects behind it.

use std::collections::{BTreeMap, HashSet};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::Registry;
use crate::outbox::SessionId;
use crate::seams::Answer;

/// Directory answers awaited at once by default (see `max_in_flight`).
pub(super) const MAX_IN_FLIGHT: u64 = 1_024;

/// An answer's effect on the registry, waiting for the earlier ones.
type Apply = Box<dyn FnOnce(&mut Registry)>;

/// Where the registry's directory calls stand. See the module docs.
pub(super) struct InOrder {
    /// Answers awaited at once, at most.
    pub(super) max_in_flight: u64,
    /// The ticket of the next call.
    next: u64,
    /// Every ticket below this is applied.
    applied: u64,
    /// Answers that came before an earlier one did.
    ready: BTreeMap<u64, Apply>,
    /// Sessions another node's claim evicted before this node applied
    /// their own claim's answer (the eviction notice comes over pub/sub
    /// and can overtake the answer): closed as soon as it is applied.
    /// Emptied whenever nothing is awaited.
    evicted_early: HashSet<SessionId>,
}

impl Default for InOrder {
    fn default() -> Self {
        Self {
            max_in_flight: MAX_IN_FLIGHT,
            next: 0,
            applied: 0,
            ready: BTreeMap::new(),
            evicted_early: HashSet::new(),
        }
    }
}

impl InOrder {
    fn in_flight(&self) -> u64 {
        self.next - self.applied
    }

    /// `session` was evicted, and this node has no endpoint for it: if a
    /// claim is awaited it may be this session's, so remember it.
    pub(super) fn evicted_before_applied(&mut self, session: SessionId) {
        if self.in_flight() > 0 {
            self.evicted_early.insert(session);
        }
    }

    /// Whether `session`'s claim was overtaken by its eviction.
    pub(super) fn was_evicted(&mut self, session: SessionId) -> bool {
        !self.evicted_early.is_empty() && self.evicted_early.remove(&session)
    }
}

impl Registry {
    /// Runs `apply` on the directory's `answer` once it and every answer
    /// asked for before it have come (at once, when it answered at once
    /// and none is awaited); the response is what `apply` returns, or
    /// `stopped` when the registry stopped first.
    pub(super) fn in_order<T, R>(
        &mut self,
        answer: Answer<T>,
        ctx: &mut Context<Self>,
        stopped: R,
        apply: impl FnOnce(&mut Self, T) -> R + 'static,
    ) -> ResponseFuture<R>
    where
        T: Unpin + Send + 'static,
        R: 'static,
    {
        let answer = match answer.into_now() {
            Ok(value) if self.order.in_flight() == 0 => {
                let result = apply(self, value);
                return Box::pin(std::future::ready(result));
            }
            other => other,
        };
        let ticket = self.order.next;
        self.order.next += 1;
        let (tx, rx) = oneshot::channel();
        let applied = move |act: &mut Self, value: T| {
            let _ = tx.send(apply(act, value));
        };
        match answer {
            Ok(value) => self.take(ticket, Box::new(move |act| applied(act, value))),
            Err(later) => {
                let full = self.order.in_flight() >= self.order.max_in_flight;
                let came = later.into_actor(self).map(move |value, act, _| {
                    act.take(ticket, Box::new(move |act| applied(act, value)));
                });
                if full {
                    ctx.wait(came);
                } else {
                    ctx.spawn(came);
                }
            }
        }
        Box::pin(async move { rx.await.unwrap_or(stopped) })
    }

    /// Files the effect of answer `ticket` and applies every one whose
    /// earlier ones are applied.
    fn take(&mut self, ticket: u64, apply: Apply) {
        self.order.ready.insert(ticket, apply);
        while let Some(apply) = self.order.ready.remove(&self.order.applied) {
            self.order.applied += 1;
            apply(self);
        }
        if self.order.in_flight() == 0 {
            self.order.evicted_early.clear();
        }
    }
}
