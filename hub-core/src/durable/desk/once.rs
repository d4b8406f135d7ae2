//! Publishes and broadcasts that take effect once per `msg_id` in the whole
//! hub: the sender's id is claimed in the ledger (Redis: `SET NX PX GET`,
//! in the sender's slot) before the request takes effect, and its outcome
//! is written there for the rest of `dedupe_window_ms`, so a retry through
//! any node gets the first answer without a second effect.
//!
//! A retry made on this node while the first attempt is on its way waits
//! here for its answer, as on one node. One that reaches another node
//! while the first attempt has not settled is refused `unavailable`
//! (temporary: retry later for the first answer); if that attempt's node
//! died before settling, the id is taken until the window ends.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::InboxDesk;
use crate::durable::ledger::ClaimedHere;
use crate::durable::once::{Claim, Claimed, Settle};
use crate::error::HubError;

/// Claims from this node not settled yet: (sender, msg_id) → retries
/// waiting for the first attempt's answer.
pub(super) type Claiming =
    HashMap<(Arc<str>, Arc<str>), VecDeque<oneshot::Sender<Result<Claimed, HubError>>>>;

impl Handler<Claim> for InboxDesk {
    type Result = ResponseActFuture<Self, Result<Claimed, HubError>>;

    fn handle(&mut self, msg: Claim, _: &mut Self::Context) -> Self::Result {
        let key = (msg.sender.clone(), msg.msg_id.clone());
        if let Some(waiting) = self.claiming.get_mut(&key) {
            let (tx, rx) = oneshot::channel();
            waiting.push_back(tx);
            return Box::pin(
                async move {
                    rx.await
                        .unwrap_or(Err(HubError::Internal("the inbox actor stopped")))
                }
                .into_actor(self),
            );
        }
        self.claiming.insert(key.clone(), VecDeque::new());
        let claimed = self.ledger.claim(
            &msg.sender,
            &msg.msg_id,
            msg.fingerprint,
            self.limits.dedupe_window,
        );
        Box::pin(claimed.into_actor(self).map(move |claimed, act, _| {
            let answer = match claimed {
                Ok(ClaimedHere::Fresh) => return Ok(Claimed::Fresh),
                Ok(ClaimedHere::Conflict) => Ok(Claimed::Conflict),
                Ok(ClaimedHere::Repeat(outcome)) => Ok(Claimed::Repeat(outcome)),
                Ok(ClaimedHere::Pending) => Err(HubError::Unavailable(
                    "the first attempt of this msg_id (on another node)",
                )),
                Err(e) => Err(e),
            };
            // Not this node's to settle: the retries parked here get the same.
            for retry in act.claiming.remove(&key).unwrap_or_default() {
                let _ = retry.send(answer.clone());
            }
            answer
        }))
    }
}

impl Handler<Settle> for InboxDesk {
    type Result = ();

    fn handle(&mut self, msg: Settle, ctx: &mut Self::Context) {
        let key = (msg.sender.clone(), msg.msg_id.clone());
        let Some(outcome) = msg.outcome else {
            // Failed: the first retry waiting here goes ahead instead, or
            // the id is freed for a retry from anywhere.
            let next = self.claiming.get_mut(&key).and_then(VecDeque::pop_front);
            if let Some(retry) = next {
                let _ = retry.send(Ok(Claimed::Fresh));
                return;
            }
            self.claiming.remove(&key);
            let freed = self
                .ledger
                .settle_claim(&msg.sender, &msg.msg_id, msg.fingerprint, None);
            ctx.spawn(freed.into_actor(self));
            return;
        };
        for retry in self.claiming.remove(&key).unwrap_or_default() {
            let _ = retry.send(Ok(Claimed::Repeat(outcome.clone())));
        }
        self.remember_retry_id(&msg.sender, &msg.msg_id);
        let settled =
            self.ledger
                .settle_claim(&msg.sender, &msg.msg_id, msg.fingerprint, Some(&outcome));
        ctx.spawn(settled.into_actor(self));
    }
}
