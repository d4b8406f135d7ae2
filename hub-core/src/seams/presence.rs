//! [`SharedPresence`]: topic members as the hub sees them, for every engine.
//!
//! A topic actor decides, from its own subscribers and their grace
//! windows, when an address joins or leaves *on its node*, and hands each
//! change here. The engine answers who tells the topic's listeners:
//!
//! - the memory engine (`topic::presence::MemoryPresence`): one node is
//!   the hub, so the change is the hub's, and the topic tells its
//!   listeners at once ([`Told::Here`]); pages are read from the topic
//!   actor, which queues the answer in order with its events;
//! - the Redis engine (`redis/presence.rs`): members of every node are kept
//!   in Redis, which decides whether the hub saw a join or a leave (an
//!   address that moved to another node within its grace did neither) and
//!   announces it to every node ([`Told::ByEngine`]), whose topics hear it
//!   through the engine's events; pages are read from Redis.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::Answer;
use crate::error::HubError;
use crate::outbox::SessionHandle;
use crate::protocol::FrameId;

/// What to read of a topic's presence.
#[derive(Debug, Clone)]
pub(crate) enum PresenceQuery {
    /// Up to `limit` members after `after`.
    Page {
        after: Option<Arc<str>>,
        limit: usize,
    },
    /// How many members.
    Count,
}

/// A read of a topic's presence (empty: no member, or no topic).
#[derive(Debug, Clone, Default)]
pub(crate) struct PresenceRead {
    /// The members asked for, in address order, each with its info.
    pub(crate) members: Vec<(Arc<str>, Option<Arc<RawValue>>)>,
    /// The `after` of the next page, when more follow.
    pub(crate) next: Option<Arc<str>>,
    /// How many members the topic has.
    pub(crate) total: usize,
    /// The answer frame is queued already, to the session the read named,
    /// in order with the topic's events; otherwise the asker sends it.
    pub(crate) queued: bool,
}

impl PresenceRead {
    /// The answer frame to `query` on `topic` (`hub:presence_ack` or
    /// `hub:presence_stats_ack`), echoing `id`: built here only, whoever
    /// queues it.
    pub(crate) fn answer(
        &self,
        id: Option<&FrameId>,
        topic: &str,
        query: &PresenceQuery,
    ) -> String {
        use crate::protocol::presence::{Member, PresenceAck, PresenceStatsAck};
        use crate::protocol::ServerFrame;
        use std::borrow::Cow;
        let id = id.map(Cow::Borrowed);
        let frame = match query {
            PresenceQuery::Page { .. } => ServerFrame::PresenceAck(PresenceAck {
                id,
                topic: topic.into(),
                members: self
                    .members
                    .iter()
                    .map(|(address, info)| Member {
                        address: Cow::Borrowed(&**address),
                        info: info.as_deref().map(Cow::Borrowed),
                    })
                    .collect(),
                next: self.next.as_deref().map(Cow::Borrowed),
            }),
            PresenceQuery::Count => ServerFrame::PresenceStatsAck(PresenceStatsAck {
                id,
                topic: topic.into(),
                members: self.total,
            }),
        };
        frame.to_json()
    }
}

/// Who tells a topic's listeners of a join or leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Told {
    /// The change is the hub's now: the topic that made it tells them.
    Here,
    /// The engine decides whether the hub saw a change and announces it
    /// to every node's topic (`EngineEvents::member_changed`).
    ByEngine,
}

/// A session to queue a presence answer to, and the id it echoes.
pub(crate) type PushTo = (SessionHandle, Option<FrameId>);

/// See the module docs.
pub(crate) trait SharedPresence: std::fmt::Debug + Send + Sync + 'static {
    /// `address` became a member of `topic` on this node, with `info`.
    fn joined(&self, topic: &str, address: &str, info: Option<&RawValue>) -> Told;

    /// `address` is no longer a member of `topic` on this node.
    fn left(&self, topic: &str, address: &str) -> Told;

    /// Reads `topic`'s members. With `push_to` the engine may queue the
    /// answer frame itself, in order with the topic's events, and says so
    /// in [`PresenceRead::queued`].
    fn read(
        &self,
        topic: &str,
        query: PresenceQuery,
        push_to: Option<PushTo>,
    ) -> Answer<Result<PresenceRead, HubError>>;

    /// Changes this engine announces later (`Told::ByEngine`) that a topic
    /// remembers at most while it waits for their announcement; `0` for an
    /// engine that never does.
    fn told_later_max(&self) -> u64 {
        0
    }
}
