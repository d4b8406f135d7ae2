//! A session's presence requests: a page of a topic's members
//! (`hub:presence`), their count (`hub:presence_stats`), and watching an
//! address come online and go offline (`hub:watch`, `hub:unwatch`).
//!
//! Each is waited for (`ctx.wait`), like a subscribe, so answers keep frame
//! order. The answer itself is queued by the actor that owns the state (the
//! topic, the registry) from inside its handler, so an event about the
//! same state can never overtake the snapshot it is not part of.

use std::borrow::Cow;
use std::sync::Arc;

use actix::prelude::*;

use super::{echo, Session};
use crate::error::HubError;
use crate::permissions::Right;

use crate::protocol::presence::{WatchAck, PRESENCE_PAGE_DEFAULT};
use crate::protocol::{ErrorCode, FrameId, ServerFrame};
use crate::registry::{Unwatch, Watch};
use crate::seams::presence::{PresenceQuery, PresenceRead};

impl Session {
    /// `hub:presence` and `hub:presence_stats`.
    pub(super) fn read_presence(
        &mut self,
        id: Option<FrameId>,
        topic: &str,
        query: PresenceQuery,
        ctx: &mut Context<Self>,
    ) {
        let checked = self
            .node
            .router
            .check_name("topic", topic)
            .and_then(|()| self.topic_right(topic, Right::Presence))
            .and_then(|namespace| match namespace.track_presence {
                true => Ok(()),
                false => Err(HubError::PresenceDisabled(topic.to_owned())),
            });
        if let Err(e) = checked {
            return self.push_topic_error(id.as_ref(), topic, &e);
        }
        // The hub's presence answers; one node's topic queues the answer
        // itself, in order with its events.
        let push_to = Some((self.handle.clone(), id.clone()));
        let read = self.node.presence.read(topic, query.clone(), push_to);
        let topic: Arc<str> = topic.into();
        ctx.wait(read.into_actor(self).map(move |read, act, _| match read {
            Ok(read) if read.queued => {}
            Ok(read) => act.push_presence(id, &topic, &query, read),
            Err(e) => act.push_topic_error(id.as_ref(), &topic, &e),
        }));
    }

    fn push_presence(
        &self,
        id: Option<FrameId>,
        topic: &str,
        query: &PresenceQuery,
        read: PresenceRead,
    ) {
        let frame = read.answer(id.as_ref(), topic, query);
        self.handle.push(frame.into());
    }

    /// `hub:watch`: answered by the registry, which adds the watcher in
    /// the same turn.
    pub(super) fn watch(&mut self, id: Option<FrameId>, address: &str, ctx: &mut Context<Self>) {
        let checked = self
            .node
            .router
            .check_name("address", address)
            .and_then(|()| {
                self.node
                    .permissions
                    .address(&self.grants, address, Right::Watch)
            });
        if let Err(e) = checked {
            return self.push_hub_error(id.as_ref(), &e);
        }
        let max = self.node.config.max_watches_per_session;
        let watching = &mut self.extras().watching;
        if !watching.contains(address) && watching.len() >= max {
            return self.push_hub_error(id.as_ref(), &HubError::TooManyWatches(max));
        }
        let address: Arc<str> = address.into();
        watching.insert(address.clone());
        let watched = address.clone();
        let watch = self.node.registry.send(Watch {
            address,
            handle: self.handle.clone(),
            id: id.clone(),
        });
        ctx.wait(watch.into_actor(self).map(move |res, act, _| match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // Not watched after all: the client may ask again.
                if let Some(extras) = act.extras.as_mut() {
                    extras.watching.remove(&watched);
                }
                act.push_hub_error(id.as_ref(), &e);
            }
            Err(_) => act.push_error(id.as_ref(), ErrorCode::Internal, "registry stopped"),
        }));
    }

    /// `hub:unwatch`: idempotent.
    pub(super) fn unwatch(&mut self, id: Option<FrameId>, address: &str, ctx: &mut Context<Self>) {
        if let Err(e) = self.node.router.check_name("address", address) {
            return self.push_hub_error(id.as_ref(), &e);
        }
        let watched = self.extras.as_mut().and_then(|e| e.watching.take(address));
        let ack = move |act: &mut Session, address: &str| {
            act.push(&ServerFrame::UnwatchAck(WatchAck {
                id: echo(id.as_ref()),
                address: Cow::Borrowed(address),
                online: None,
            }));
        };
        let Some(address) = watched else {
            return ack(self, address);
        };
        // Waited for, so that no event for it follows the ack.
        let unwatch = self.node.registry.send(Unwatch {
            addresses: vec![address.clone()],
            session: self.id,
        });
        ctx.wait(
            unwatch
                .into_actor(self)
                .map(move |_, act, _| ack(act, &address)),
        );
    }

    /// The limit a `hub:presence` asks for, or the default.
    pub(super) fn page_limit(limit: Option<usize>) -> usize {
        limit.unwrap_or(PRESENCE_PAGE_DEFAULT)
    }
}
