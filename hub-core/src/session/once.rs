//! Publishes and broadcasts with a `msg_id`, when the hub remembers ids
//! (durability on): made once however often the client retries, each retry
//! answered as the first attempt was (see `durable::once`). Checked for
//! rights and limits first, like any publish or broadcast; a retry of a
//! remembered id is let past the rate limit once per session. The claim is
//! waited for, so they take effect in the order they were sent.

use std::borrow::Cow;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::{echo, Session};
use crate::durable::once::{broadcast_fingerprint, fingerprint, memo_of, Claim, Claimed, Settle};
use crate::durable::ports::InboxPorts;
use crate::durable::store::Outcome;
use crate::error::HubError;
use crate::protocol::server::{BroadcastAck, PublishAck};
use crate::protocol::{BroadcastTarget, FrameId, ServerFrame};
use crate::topic::registry::TopicKind;

/// A publish being made once.
pub(super) struct OncePublish<'a> {
    pub(super) from: &'a str,
    pub(super) topic: &'a str,
    pub(super) payload: &'a RawValue,
    pub(super) kind: TopicKind,
    pub(super) msg_id: &'a str,
}

/// A broadcast being made once.
pub(super) struct OnceBroadcast<'a> {
    pub(super) from: &'a str,
    pub(super) to: BroadcastTarget,
    pub(super) payload: &'a RawValue,
    pub(super) msg_id: &'a str,
}

impl Session {
    /// Claims `msg_id` and waits for the claim (this session reads nothing
    /// meanwhile, so requests take effect in the order they came: a
    /// pipelining publisher's publications stay in order). A fresh claim
    /// makes the request at once — `make` enqueues it before returning —
    /// and settles it from a task of its own, so a retry of the same id
    /// waiting on this session's next claim is never stuck behind it.
    fn once<F, Fut>(
        &mut self,
        claim: Claim,
        inboxes: InboxPorts,
        make: F,
        answer: impl FnOnce(&mut Session, Result<Outcome, HubError>) + 'static,
        ctx: &mut Context<Self>,
    ) where
        F: FnOnce() -> Fut + 'static,
        Fut: std::future::Future<Output = Result<Outcome, HubError>> + 'static,
    {
        let (sender, msg_id, fingerprint) = (
            claim.sender.clone(),
            claim.msg_id.clone(),
            claim.fingerprint,
        );
        let claimed = inboxes.claim.send(claim);
        ctx.wait(claimed.into_actor(self).map(move |res, session, ctx| {
            let stopped = || HubError::Internal("the inbox actor stopped");
            match res.map_err(|_| stopped()).and_then(|r| r) {
                Err(e) => answer(session, Err(e)),
                Ok(Claimed::Conflict) => answer(
                    session,
                    Err(HubError::IdempotencyConflict(msg_id.to_string())),
                ),
                Ok(Claimed::Repeat(outcome)) => answer(session, Ok(outcome)),
                Ok(Claimed::Fresh) => {
                    let made = make();
                    let (tx, rx) = oneshot::channel();
                    actix_rt::spawn(async move {
                        let result = made.await;
                        inboxes.settle.do_send(Settle {
                            sender,
                            msg_id,
                            fingerprint,
                            outcome: result.as_ref().ok().cloned(),
                        });
                        let _ = tx.send(result);
                    });
                    let done = rx.into_actor(session);
                    ctx.spawn(done.map(move |r, session, _| {
                        answer(session, r.unwrap_or_else(|_| Err(stopped())));
                    }));
                }
            }
        }));
    }

    /// A publish whose `msg_id` is claimed first; answered with the first
    /// attempt's `recipients` and `offset` on a retry.
    pub(super) fn publish_once(
        &mut self,
        id: Option<FrameId>,
        inboxes: InboxPorts,
        p: OncePublish<'_>,
        ctx: &mut Context<Self>,
    ) {
        let node = self.node.clone();
        let known = self.subscriptions.get(p.topic).cloned();
        let (topic, from): (Arc<str>, Arc<str>) = (p.topic.into(), p.from.into());
        let payload = p.payload.to_owned();
        let kind = p.kind;
        let print = fingerprint("hub:publish", p.topic, p.payload);
        let memo = memo_of(p.from, p.msg_id, print);
        let publish = {
            let topic = topic.clone();
            move || {
                let router = &node.router;
                let published =
                    router.publish_answered(&topic, &from, &payload, known.as_ref(), kind, memo);
                async move { published.await.map(Outcome::from) }
            }
        };
        let answer = move |session: &mut Session, res: Result<Outcome, HubError>| match res {
            Ok(Outcome::Published { recipients, offset }) => {
                session.push(&ServerFrame::PublishAck(PublishAck {
                    id: echo(id.as_ref()),
                    topic: Cow::Borrowed(&topic),
                    recipients,
                    offset,
                }))
            }
            Ok(_) => session.push_topic_error(id.as_ref(), &topic, &conflict()),
            Err(e) => session.push_topic_error(id.as_ref(), &topic, &e),
        };
        let claim = Claim {
            sender: p.from.into(),
            msg_id: p.msg_id.into(),
            fingerprint: print,
        };
        self.once(claim, inboxes, publish, answer, ctx);
    }

    /// A broadcast whose `msg_id` is claimed first; answered with the first
    /// attempt's `recipients` and `not_found` on a retry.
    pub(super) fn broadcast_once(
        &mut self,
        id: Option<FrameId>,
        inboxes: InboxPorts,
        b: OnceBroadcast<'_>,
        ctx: &mut Context<Self>,
    ) {
        let OnceBroadcast {
            from,
            to,
            payload,
            msg_id,
        } = b;
        let print = broadcast_fingerprint(&to, payload);
        let node = self.node.clone();
        let from_owned: Arc<str> = from.into();
        let payload = payload.to_owned();
        // Every node's holders, as without a msg_id.
        let broadcast = move || node.router.broadcast_outcome(&from_owned, &to, &payload);
        let answer = move |session: &mut Session, res: Result<Outcome, HubError>| match res {
            Ok(Outcome::Broadcast {
                recipients,
                not_found,
            }) => session.push(&ServerFrame::BroadcastAck(BroadcastAck {
                id: echo(id.as_ref()),
                recipients,
                not_found: not_found.into_iter().map(Cow::Owned).collect(),
            })),
            Ok(_) => session.push_hub_error(id.as_ref(), &conflict()),
            Err(e) => session.push_hub_error(id.as_ref(), &e),
        };
        let claim = Claim {
            sender: from.into(),
            msg_id: msg_id.into(),
            fingerprint: print,
        };
        self.once(claim, inboxes, broadcast, answer, ctx);
    }
}

/// An id remembered for another kind of request.
fn conflict() -> HubError {
    HubError::IdempotencyConflict("this msg_id".into())
}
