//! [`ActorEvents`]: the engine's reports, turned into messages for this
//! node's actors (the one implementation of
//! [`EngineEvents`](crate::seams::events::EngineEvents)).
//!
//! Publications go to the topic's actor, if this node has one, with
//! `try_send`: a topic whose mailbox is full drops the publication (the
//! engine counts it) rather than holding up every other topic behind it.
//! Presence and eviction go to the registry; a member change to its topic.
//! A restore tells the registry and every topic (once per restore, not per
//! message).

use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use bytestring::ByteString;
use serde_json::value::RawValue;

use crate::outbox::SessionId;
use crate::registry::{Evicted, Registry, ResyncWatches, Transition};
use crate::seams::addresses::Epoch;
use crate::seams::events::{Delivered, EngineEvents};
use crate::topic::presence::{MemberChanged, RejoinMembers};
use crate::topic::registry::TopicIndex;
use crate::topic::PublishRemote;

/// The engine's reports for this node's actors. See the module docs.
pub(crate) struct ActorEvents {
    registry: Addr<Registry>,
    topics: TopicIndex,
}

impl std::fmt::Debug for ActorEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorEvents").finish_non_exhaustive()
    }
}

impl ActorEvents {
    pub(crate) fn new(registry: Addr<Registry>, topics: TopicIndex) -> Self {
        Self { registry, topics }
    }
}

impl EngineEvents for ActorEvents {
    fn published(
        &self,
        topic: &str,
        frame: ByteString,
        epoch: Option<Arc<str>>,
        received: Instant,
    ) -> Delivered {
        let Some(actor) = self.topics.get(topic).map(|entry| entry.clone()) else {
            return Delivered::NotForUs;
        };
        match actor.try_send(PublishRemote {
            frame,
            epoch,
            received,
        }) {
            Ok(()) => Delivered::Yes,
            Err(_) => Delivered::Dropped,
        }
    }

    fn transition(&self, address: &str, online: bool) {
        self.registry.do_send(Transition {
            address: address.into(),
            online,
        });
    }

    fn member_changed(
        &self,
        topic: &str,
        address: &str,
        joined: bool,
        info: Option<Arc<RawValue>>,
    ) {
        // No actor: no one here listens.
        let Some(actor) = self.topics.get(topic).map(|a| a.clone()) else {
            return;
        };
        let _ = actor.try_send(MemberChanged {
            address: address.into(),
            joined,
            info,
        });
    }

    fn evicted(&self, address: &str, session: SessionId, epoch: Epoch) {
        self.registry.do_send(Evicted {
            address: address.into(),
            session,
            epoch,
        });
    }

    fn restored(&self) {
        self.registry.do_send(ResyncWatches);
        for topic in self.topics.iter() {
            topic.value().do_send(RejoinMembers);
        }
    }
}
