//! [`EngineEvents`]: what an engine tells this node's actors.
//!
//! An engine shared by many nodes (Redis) hears things the actors here must
//! act on: a publication another node made, an address that came online or
//! went offline elsewhere, a claim that evicts one of this node's sessions,
//! a member that joined or left a topic, and its own link coming back after
//! a loss. It reports each through this one sink and knows nothing of the
//! actors behind it (the sink is `events::ActorEvents`, built with the
//! node), so data flows one way: actors call the engine through the seams,
//! the engine answers through the sink. Centrifuge calls the same thing its
//! broker's event handler.
//!
//! Every method is called from the engine's own tasks, once per event
//! (never per recipient), and must not wait: it hands the event to an
//! actor's mailbox and returns.

use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use serde_json::value::RawValue;

use super::addresses::Epoch;
use crate::outbox::SessionId;

/// What became of a publication handed to [`EngineEvents::published`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Handed to the topic's actor here.
    Yes,
    /// The topic's actor had no room for it (counted as dropped).
    Dropped,
    /// No one on this node subscribes to the topic (any more).
    NotForUs,
}

/// What an engine tells this node's actors. See the module docs.
pub(crate) trait EngineEvents: Send + Sync + 'static {
    /// Another node published `frame` (an encoded `hub:message`) to
    /// `topic`; `epoch` is set for a publication numbered in the topic's
    /// shared history (then this node's own come back this way too).
    fn published(
        &self,
        topic: &str,
        frame: ByteString,
        epoch: Option<Arc<str>>,
        received: Instant,
    ) -> Delivered;

    /// `address` came online (or went offline) somewhere in the hub.
    fn transition(&self, address: &str, online: bool);

    /// `address` joined (or left) `topic`'s members somewhere in the hub;
    /// `info` is what it joined with.
    fn member_changed(&self, topic: &str, address: &str, joined: bool, info: Option<Arc<RawValue>>);

    /// Another node's claim of `address` under `epoch` evicts `session`,
    /// which held it here.
    fn evicted(&self, address: &str, session: SessionId, epoch: Epoch);

    /// The engine's link came back after a loss: what it held for this
    /// node (subscriptions, members, inboxes) may be gone and what it
    /// announced meanwhile missed, so the actors ask again and re-announce.
    fn restored(&self);
}
