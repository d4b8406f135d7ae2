//! Publishes and broadcasts with a `msg_id`, when the hub remembers ids
//! (durability on): made once however often the client retries, each retry
//! answered as the first attempt was (see `durable::once`). Checked for
//! rights and limits first, like any publish or broadcast; a retry of a
//! remembered id is let past the rate limit once per session.

use std::borrow::Cow;
use std::sync::Arc;

use actix::prelude::*;
use serde_json::value::RawValue;

use super::{echo, Session};
use crate::directory::TopicKind;
use crate::durable::inboxes::Inboxes;
use crate::durable::once::{at_most_once, fingerprint};
use crate::durable::store::Outcome;
use crate::error::HubError;
use crate::protocol::server::{BroadcastAck, PublishAck};
use crate::protocol::{BroadcastTarget, FrameId, ServerFrame};

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
    /// A publish whose `msg_id` is claimed first; answered with the first
    /// attempt's `recipients` and `offset` on a retry.
    pub(super) fn publish_once(
        &mut self,
        id: Option<FrameId>,
        inboxes: Addr<Inboxes>,
        p: OncePublish<'_>,
        ctx: &mut Context<Self>,
    ) {
        let node = self.node.clone();
        let known = self.subscriptions.get(p.topic).cloned();
        let (topic, from): (Arc<str>, Arc<str>) = (p.topic.into(), p.from.into());
        let payload = p.payload.to_owned();
        let kind = p.kind;
        let print = fingerprint("hub:publish", p.topic, p.payload);
        let publish = {
            let topic = topic.clone();
            move || {
                let router = &node.router;
                let published =
                    router.publish_answered(&topic, &from, &payload, known.as_ref(), kind);
                async move { published.await.map(Outcome::from) }
            }
        };
        let once = at_most_once(inboxes, p.from.into(), p.msg_id.into(), print, publish);
        ctx.spawn(once.into_actor(self).map(move |res, act, _| match res {
            Ok(Outcome::Published { recipients, offset }) => {
                act.push(&ServerFrame::PublishAck(PublishAck {
                    id: echo(id.as_ref()),
                    topic: Cow::Borrowed(&topic),
                    recipients,
                    offset,
                }))
            }
            Ok(_) => act.push_hub_error(id.as_ref(), &conflict()),
            Err(e) => act.push_hub_error(id.as_ref(), &e),
        }));
    }

    /// A broadcast whose `msg_id` is claimed first; answered with the first
    /// attempt's `recipients` and `not_found` on a retry.
    pub(super) fn broadcast_once(
        &mut self,
        id: Option<FrameId>,
        inboxes: Addr<Inboxes>,
        b: OnceBroadcast<'_>,
        ctx: &mut Context<Self>,
    ) {
        let OnceBroadcast {
            from,
            to,
            payload,
            msg_id,
        } = b;
        let target = match &to {
            BroadcastTarget::All => "all".to_owned(),
            // Names hold no control characters: the list reads back one way.
            BroadcastTarget::List(list) => format!("list:{}", list.join("\n")),
        };
        let print = fingerprint("hub:broadcast", &target, payload);
        let node = self.node.clone();
        let from_owned: Arc<str> = from.into();
        let payload = payload.to_owned();
        let broadcast = move || async move {
            let outcome = node.router.broadcast(&from_owned, &to, &payload)?;
            Ok(Outcome::Broadcast {
                recipients: outcome.recipients,
                not_found: outcome.not_found.into_iter().map(str::to_owned).collect(),
            })
        };
        let once = at_most_once(inboxes, from.into(), msg_id.into(), print, broadcast);
        ctx.spawn(once.into_actor(self).map(move |res, act, _| match res {
            Ok(Outcome::Broadcast {
                recipients,
                not_found,
            }) => act.push(&ServerFrame::BroadcastAck(BroadcastAck {
                id: echo(id.as_ref()),
                recipients,
                not_found: not_found.into_iter().map(Cow::Owned).collect(),
            })),
            Ok(_) => act.push_hub_error(id.as_ref(), &conflict()),
            Err(e) => act.push_hub_error(id.as_ref(), &e),
        }));
    }
}

/// An id remembered for another kind of request.
fn conflict() -> HubError {
    HubError::IdempotencyConflict("this msg_id".into())
}
