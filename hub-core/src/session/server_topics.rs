//! Subscriptions the server makes and ends for a session, not its client:
//! the topics of its token's `channels` claim at connect, and the server
//! API's subscribe and unsubscribe of a user (every connection of it, on
//! every node). The client hears `hub:subscribed` and `hub:unsubscribed`
//! (`server`); the client's own rights are not asked.

use std::borrow::Cow;
use std::sync::Arc;

use actix::prelude::*;

use super::{Phase, Session};
use crate::outbox::SessionOrder;
use crate::protocol::server::{TopicAck, Unsubscribed};
use crate::protocol::ServerFrame;
use crate::topic::registry::Subscribe;
use crate::topic::Leave;

impl Session {
    /// Joins `topic` for the server: `hub:subscribed` once in place.
    /// Refused (an unknown namespace, a cap), it is logged and the client
    /// hears nothing.
    pub(super) fn subscribe_by_server(&mut self, topic: Arc<str>, ctx: &mut Context<Self>) {
        if !matches!(self.phase, Phase::Connected { .. }) {
            return;
        }
        let (topic, kind, member) = match self.plan_join(&topic, None) {
            Ok(Some(join)) => join,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(parent: &self.span, %topic, error = %e, "server-side subscribe refused");
                return;
            }
        };
        let request = self.node.topic_registry.send(Subscribe {
            topic: topic.clone(),
            handle: self.handle.clone(),
            member,
            kind,
            since: None,
        });
        // Waited for, as a client's subscribe is: what the client sends
        // next finds the subscription in place.
        ctx.wait(request.into_actor(self).map(move |res, act, _| {
            act.pending_subscribes.remove(&topic);
            match res {
                Ok(Ok((addr, joined))) => {
                    act.subscriptions.insert(topic.clone(), addr);
                    act.told_subscribed(&topic, "server");
                    act.push(&ServerFrame::Subscribed(TopicAck {
                        id: None,
                        topic: (*topic).into(),
                        epoch: joined.epoch.as_deref().map(Cow::Borrowed),
                        offset: joined.offset,
                        recovered: None,
                    }));
                }
                Ok(Err(e)) => {
                    tracing::debug!(parent: &act.span, %topic, error = %e, "server-side subscribe refused");
                }
                Err(_) => {}
            }
        }));
    }

    /// Ends the subscription to `topic` for the server (`hub:unsubscribed`,
    /// reason `server`); nothing when the session is not in it.
    pub(super) fn unsubscribe_by_server(&mut self, topic: &str, ctx: &mut Context<Self>) {
        self.drop_topic_token(topic, ctx);
        let Some(addr) = self.subscriptions.remove(topic) else {
            return;
        };
        addr.do_send(Leave {
            session: self.id,
            dropped: false,
        });
        self.told_unsubscribed(topic, "server");
        self.push(&ServerFrame::Unsubscribed(Unsubscribed {
            topic: topic.into(),
            reason: "server".into(),
        }));
    }
}

/// What the hub orders a session from outside its client's frames: a
/// close, or a topic to join or leave.
impl Handler<SessionOrder> for Session {
    type Result = ();

    fn handle(&mut self, order: SessionOrder, ctx: &mut Self::Context) {
        match order {
            SessionOrder::Close { code, forced } => self.begin_close(ctx, code, forced),
            SessionOrder::Subscribe(topic) => self.subscribe_by_server(topic, ctx),
            SessionOrder::Unsubscribe(topic) => self.unsubscribe_by_server(&topic, ctx),
        }
    }
}
