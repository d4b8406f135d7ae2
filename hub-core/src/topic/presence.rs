//! A topic's presence (namespaces with `track_presence`): its member list,
//! the `hub:join` / `hub:leave` events its listeners hear (namespaces with
//! `join_leave`), and the timer that ends dropped members' grace windows.
//! Answers to `hub:presence` and `hub:presence_stats` are queued into the
//! asker's queue from inside the topic's handler, so that no join or leave
//! event can pass the snapshot it is not part of.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytestring::ByteString;
use futures_util::FutureExt;
use serde_json::value::RawValue;

use super::Topic;
use crate::error::HubError;
use crate::outbox::{OutFrame, SessionId};
use crate::presence::members::{Change, Members};
use crate::presence::Membership;
use crate::protocol::presence::MemberEvent;
use crate::protocol::ServerFrame;
use crate::seams::presence::{PresenceQuery, PresenceRead, PushTo, SharedPresence, Told};
use crate::seams::Answer;
use crate::topic::registry::TopicIndex;

/// What a topic with presence keeps besides its subscribers.
pub(super) struct Present {
    pub(super) members: Members,
    /// Listeners hear joins and leaves.
    join_leave: bool,
    /// The pending end of the earliest grace window.
    timer: Option<SpawnHandle>,
    /// Members as the hub sees them: this node's changes go there, and it
    /// answers who tells the listeners (see `seams::presence`).
    shared: Arc<dyn SharedPresence>,
    /// Changes made on this node so far: a clock for the two maps below.
    changes: u64,
    /// When each listener began to listen (`changes` then).
    since: HashMap<SessionId, u64>,
    /// Changes made here that the engine announces later, by address:
    /// `changes` when each was made. A listener that began after it does
    /// not hear of it (the announcement can come after a newer listener
    /// subscribed, which found the address already a member, or gone).
    told_later: HashMap<Arc<str>, u64>,
}

impl Present {
    pub(super) fn new(members: Members, join_leave: bool, shared: Arc<dyn SharedPresence>) -> Self {
        Self {
            members,
            join_leave,
            timer: None,
            shared,
            changes: 0,
            since: HashMap::new(),
            told_later: HashMap::new(),
        }
    }
}

/// The shared presence announced that `address` joined (with `info`) or
/// left this topic, somewhere in the hub: tell this node's listeners.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct MemberChanged {
    pub(crate) address: Arc<str>,
    pub(crate) joined: bool,
    pub(crate) info: Option<Arc<RawValue>>,
}

/// Read the topic's presence. With `push_to`, the answer frame (echoing
/// its id) is also queued there, in order with the topic's events.
#[derive(Message)]
#[rtype(result = "Option<PresenceRead>")]
pub(crate) struct ReadPresence {
    pub(crate) query: PresenceQuery,
    pub(crate) push_to: Option<PushTo>,
}

/// The memory engine's presence: one node is the hub, so each topic's own
/// members are the hub's, every change is told by the topic that made it,
/// and a read asks the topic's actor (none here: no members).
#[derive(Debug)]
pub(crate) struct MemoryPresence {
    topics: TopicIndex,
}

impl MemoryPresence {
    pub(crate) fn new(topics: TopicIndex) -> Self {
        Self { topics }
    }
}

impl SharedPresence for MemoryPresence {
    fn joined(&self, _: &str, _: &str, _: Option<&RawValue>) -> Told {
        Told::Here
    }

    fn left(&self, _: &str, _: &str) -> Told {
        Told::Here
    }

    fn read(
        &self,
        topic: &str,
        query: PresenceQuery,
        push_to: Option<PushTo>,
    ) -> Answer<Result<PresenceRead, HubError>> {
        let Some(actor) = self.topics.get(topic).map(|a| a.clone()) else {
            return Answer::now(Ok(PresenceRead::default()));
        };
        let read = actor.send(ReadPresence { query, push_to });
        // A topic retiring meanwhile had no members left.
        Answer::Later(async move { Ok(read.await.ok().flatten().unwrap_or_default()) }.boxed())
    }
}

impl Topic {
    /// Hands a join or leave to the hub's presence and, when it says so,
    /// tells listeners: encoded once, shared bytes.
    pub(super) fn announce(&mut self, change: Change, except: Option<SessionId>) {
        let Some(present) = self.present.as_deref_mut() else {
            return;
        };
        let (address, told) = match &change {
            Change::Joined(address) => {
                let info = present.members.info(address).map(|i| &**i);
                (address, present.shared.joined(&self.name, address, info))
            }
            Change::Left(address) => (address, present.shared.left(&self.name, address)),
        };
        let at = present.changes;
        present.changes += 1;
        if told == Told::ByEngine {
            present.told_later.insert(address.clone(), at);
            // An announcement the engine never makes (the address moved to
            // another node within its grace) is forgotten once this many
            // newer changes were made.
            let max = present.shared.told_later_max();
            if present.told_later.len() as u64 > max {
                let floor = present.changes.saturating_sub(max);
                present.told_later.retain(|_, made| *made >= floor);
            }
            return;
        }
        let present = &*present;
        if !present.join_leave || present.members.listeners().is_empty() {
            return;
        }
        let frame = match &change {
            Change::Joined(address) => ServerFrame::Join(MemberEvent {
                topic: Cow::Borrowed(&self.name),
                address: Cow::Borrowed(address),
                info: present.members.info(address).map(|i| Cow::Borrowed(&**i)),
            }),
            Change::Left(address) => ServerFrame::Leave(MemberEvent {
                topic: Cow::Borrowed(&self.name),
                address: Cow::Borrowed(address),
                info: None,
            }),
        };
        let frame = OutFrame::text(ByteString::from(frame.to_json()));
        for id in present.members.listeners() {
            if Some(*id) == except {
                continue;
            }
            if let Some(handle) = self.subscribers.get(id) {
                handle.push_frame(frame.clone());
            }
        }
    }

    /// `session` left; its membership ends now, or lingers when `dropped`.
    pub(super) fn member_left(
        &mut self,
        session: SessionId,
        dropped: bool,
        ctx: &mut Context<Self>,
    ) {
        let Some(present) = self.present.as_deref_mut() else {
            return;
        };
        present.since.remove(&session);
        if let Some(change) = present.members.leave(session, dropped, Instant::now()) {
            self.announce(change, None);
        }
        self.arm_grace_timer(ctx);
    }

    /// `session` subscribed as `member`: its join (if the address was not
    /// a member already) is made, and from now on it may hear others'.
    pub(super) fn member_joined(&mut self, session: SessionId, member: Membership) {
        let Some(present) = self.present.as_deref_mut() else {
            return;
        };
        if let Some(change) = present.members.join(session, member) {
            self.announce(change, Some(session));
        }
        if let Some(present) = self.present.as_deref_mut() {
            present.since.insert(session, present.changes);
        }
    }

    /// Ends grace windows when the earliest is due.
    fn arm_grace_timer(&mut self, ctx: &mut Context<Self>) {
        let Some(present) = self.present.as_deref_mut() else {
            return;
        };
        let Some(due) = present
            .members
            .next_expiry()
            .filter(|_| present.timer.is_none())
        else {
            return;
        };
        let wait = due.saturating_duration_since(Instant::now());
        present.timer = Some(ctx.run_later(wait, |act, ctx| {
            let Some(present) = act.present.as_deref_mut() else {
                return;
            };
            present.timer = None;
            for change in present.members.expire(Instant::now()) {
                act.announce(change, None);
            }
            act.arm_grace_timer(ctx);
            act.arm_idle_timer(ctx);
        }));
    }

    /// Whether dropped members are still in their grace (the topic stays).
    pub(super) fn members_lingering(&self) -> bool {
        self.present
            .as_deref()
            .is_some_and(|p| p.members.lingering())
    }
}

/// The shared presence may have lost its state (Redis came back empty):
/// hand it this node's live members again. A member it still lists is not
/// announced again; one it lost is announced as a join.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct RejoinMembers;

impl Handler<RejoinMembers> for Topic {
    type Result = ();

    fn handle(&mut self, _: RejoinMembers, _: &mut Self::Context) {
        // Publications may have been missed while away: a copy of a shared
        // history is not trusted until it hears the next one.
        self.lose_track_of_history();
        let Some(present) = self.present.as_deref() else {
            return;
        };
        for (address, info) in present.members.live() {
            // Told by the engine, whose store may have lost them: a member
            // it still lists is not announced again.
            let _ = present
                .shared
                .joined(&self.name, address, info.map(|i| &**i));
        }
    }
}

impl Handler<MemberChanged> for Topic {
    type Result = ();

    fn handle(&mut self, msg: MemberChanged, _: &mut Self::Context) {
        let Some(present) = self.present.as_deref_mut() else {
            return;
        };
        // Made here: only those listening since then hear of it.
        let made = present.told_later.remove(&msg.address);
        if !present.join_leave || present.members.listeners().is_empty() {
            return;
        }
        let present = &*present;
        let event = MemberEvent {
            topic: Cow::Borrowed(&self.name),
            address: Cow::Borrowed(&msg.address),
            info: msg.info.as_deref().map(Cow::Borrowed),
        };
        let frame = match msg.joined {
            true => ServerFrame::Join(event),
            false => ServerFrame::Leave(MemberEvent {
                info: None,
                ..event
            }),
        };
        let frame = OutFrame::text(ByteString::from(frame.to_json()));
        for id in present.members.listeners() {
            // A member does not hear of its own coming and going.
            if present.members.address_of(*id) == Some(&msg.address) {
                continue;
            }
            let since = present.since.get(id).copied().unwrap_or(0);
            if made.is_some_and(|made| since > made) {
                continue;
            }
            if let Some(handle) = self.subscribers.get(id) {
                handle.push_frame(frame.clone());
            }
        }
    }
}

impl Handler<ReadPresence> for Topic {
    type Result = Option<PresenceRead>;

    fn handle(&mut self, msg: ReadPresence, _: &mut Self::Context) -> Self::Result {
        let members = &self.present.as_deref()?.members;
        let total = members.len();
        let queued = msg.push_to.is_some();
        let read = match &msg.query {
            PresenceQuery::Count => PresenceRead {
                total,
                queued,
                ..PresenceRead::default()
            },
            PresenceQuery::Page { after, limit } => {
                let (page, next) = members.page(after.as_deref(), *limit);
                let members = page
                    .into_iter()
                    .map(|m| {
                        let info = members.info(&m.address).cloned();
                        (Arc::from(&*m.address), info)
                    })
                    .collect();
                PresenceRead {
                    members,
                    next,
                    total,
                    queued,
                }
            }
        };
        if let Some((handle, id)) = &msg.push_to {
            handle.push(read.answer(id.as_ref(), &self.name, &msg.query).into());
        }
        Some(read)
    }
}
