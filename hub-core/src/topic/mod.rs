//! The topic actor: one per live topic, holding its subscribers.
//!
//! Created by the [`TopicRegistry`](crate::topic::registry::TopicRegistry) on the
//! first subscribe (or, in a namespace with history, the first publish). A
//! publication arrives already encoded; the topic pushes the same shared
//! bytes into every subscriber's queue without waiting, so a slow
//! subscriber never blocks the publisher (it is disconnected instead).
//! When the last subscriber leaves, the topic waits `topic_idle_grace_ms` and
//! then asks the topic registry to retire it.
//!
//! In a namespace with history the topic has each publication numbered by
//! the engine's [`HistoryStore`], hands it out once it is final, keeps it in
//! its [`History`], and stays alive while its history or position is kept,
//! so a client can recover what it missed (`catching_up`).

mod catching_up;
mod kept;
pub(crate) mod presence;
mod publishing;
pub(crate) mod registry;

// Sent by the engine's events: only an engine shared by nodes has any.
#[cfg(feature = "redis")]
pub(crate) use publishing::PublishRemote;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use crate::durable::history::Recorded;
use crate::durable::store::{Outcome, Remembered, StoredPublication};
use crate::error::HubError;
use crate::message_frame::encode_publication;
use crate::metrics::Metrics;
use crate::outbox::{OutFrame, Pushed, SessionHandle, SessionId};
use crate::presence::members::Members;
use crate::presence::Membership;
use crate::seams::history::{History, HistoryStore};
use crate::seams::occupancy::Occupancy;
use crate::seams::presence::SharedPresence;
use crate::topic::registry::{TopicIdle, TopicRegistry};
use kept::{Kept, Unrecorded};
use presence::Present;

/// Mailbox capacity: joins, leaves and publications of one topic.
const MAILBOX_CAPACITY: usize = 16_384;

/// Add a subscriber. Replies once the subscriber is in the set, so a publish
/// sent after the client saw its ack reaches it; with `since`, after the
/// publications it missed are in its queue.
#[derive(Message)]
#[rtype(result = "Result<Joined, HubError>")]
pub(crate) struct Join {
    pub(crate) handle: SessionHandle,
    /// (epoch, offset) the subscriber has seen up to.
    pub(crate) since: Option<(Arc<str>, u64)>,
    /// Who the subscriber is (used by a topic that tracks presence).
    pub(crate) member: Option<Membership>,
    /// Done once this node listens to the topic's channel (`None`: it
    /// does already); a catch-up from a shared history reads after it.
    pub(crate) heard:
        Option<futures_util::future::Shared<futures_util::future::BoxFuture<'static, ()>>>,
}

/// Where a subscription begins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Joined {
    /// The topic's epoch, when it keeps history.
    pub(crate) epoch: Option<Arc<str>>,
    /// Its last offset subscribers were given, when it keeps history.
    pub(crate) offset: Option<u64>,
    /// The answer to `since`: replayed all that was missed, or not.
    pub(crate) recovered: Option<bool>,
}

/// Remove one subscriber from this topic only. `dropped`: its session
/// ended without `hub:disconnect`, so its membership lingers for the grace.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Leave {
    pub(crate) session: SessionId,
    pub(crate) dropped: bool,
}

/// Fan an encoded `hub:message` out to every subscriber. Replies with how many
/// queues accepted it.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Publish {
    pub(crate) frame: ByteString,
    /// When the publication arrived at this node.
    pub(crate) received: Instant,
}

/// Publish to a topic with history: numbered, recorded, then fanned out.
#[derive(Message)]
#[rtype(result = "Result<Published, HubError>")]
pub(crate) struct PublishRecorded {
    pub(crate) from: Arc<str>,
    pub(crate) payload: Box<RawValue>,
    /// The publisher's `msg_id`, claimed for this publication: stored in
    /// the publication's own commit (with its offset), so a retry after a
    /// crash finds it.
    pub(crate) memo: Option<Remembered>,
    /// When the publication arrived at this node.
    pub(crate) received: Instant,
}

/// What a recorded publication reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    /// Subscribers whose queue accepted it.
    pub(crate) recipients: usize,
    /// Its offset (none when the topic keeps no history).
    pub(crate) offset: Option<u64>,
}

impl From<Published> for Outcome {
    fn from(p: Published) -> Self {
        Self::Published {
            recipients: p.recipients,
            offset: p.offset,
        }
    }
}

/// How many subscribers the topic holds now.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct CountSubscribers;

/// The topic registry retired this topic; stop.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Retire;

/// The topic actor. See the module docs.
pub(crate) struct Topic {
    name: Arc<str>,
    /// Directory-assigned id, so a stale idle report cannot retire a successor.
    id: u64,
    registry: Addr<TopicRegistry>,
    /// Subscribers by session; O(1) join and leave. Bounded by `max_subscribers`.
    subscribers: HashMap<SessionId, SessionHandle>,
    max_subscribers: usize,
    /// Joins processed, reported with `TopicIdle` so the topic registry can tell
    /// whether a join is still in flight.
    joins_seen: u64,
    idle_grace: Duration,
    /// The pending idle report, cancelled when someone joins.
    idle_timer: Option<SpawnHandle>,
    metrics: Arc<Metrics>,
    /// Its namespace's slot in the metrics' labels.
    namespace: usize,
    /// In a namespace with history: what it keeps. Boxed, so a topic
    /// without history pays one pointer.
    kept: Option<Box<Kept>>,
    /// In a namespace with `track_presence`: its members. Boxed likewise.
    present: Option<Box<Present>>,
    /// Told when it gains its first subscriber and loses its last.
    occupancy: Option<Arc<dyn Occupancy>>,
    /// It has subscribers, as last told.
    occupied: bool,
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Topic {
    pub(crate) fn new(
        name: Arc<str>,
        id: u64,
        registry: Addr<TopicRegistry>,
        max_subscribers: usize,
        idle_grace: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let namespace = metrics.namespaces.of_topic(&name);
        Self {
            name,
            id,
            registry,
            subscribers: HashMap::new(),
            max_subscribers,
            joins_seen: 0,
            idle_grace,
            idle_timer: None,
            namespace,
            metrics,
            kept: None,
            present: None,
            occupancy: None,
            occupied: false,
        }
    }

    /// Tells `occupancy` when it gains its first subscriber and loses its
    /// last.
    pub(crate) fn with_occupancy(mut self, occupancy: Option<Arc<dyn Occupancy>>) -> Self {
        self.occupancy = occupancy;
        self
    }

    /// Tells the occupancy when it gained its first subscriber or lost
    /// its last (one being caught up counts).
    fn told_occupancy(&mut self) {
        let Some(occupancy) = &self.occupancy else {
            return;
        };
        let occupied = !self.subscribers.is_empty() || self.catching_up() > 0;
        if occupied != self.occupied {
            self.occupied = occupied;
            occupancy.changed(&self.name, occupied);
        }
    }

    /// Keeps a member list; with `join_leave`, listeners hear its changes.
    pub(crate) fn with_members(
        mut self,
        members: Members,
        join_leave: bool,
        shared: Arc<dyn SharedPresence>,
    ) -> Self {
        self.present = Some(Box::new(Present::new(members, join_leave, shared)));
        self
    }

    fn arm_idle_timer(&mut self, ctx: &mut Context<Self>) {
        // Lingering members keep it; their grace timer comes back here.
        if !self.subscribers.is_empty() || self.idle_timer.is_some() || self.members_lingering() {
            return;
        }
        // A topic with history stays while its position is kept.
        let now = now_ms();
        let wait = match &self.kept {
            Some(kept) if kept.busy(now) => {
                let h = &kept.history;
                let until = h.touched_ms().saturating_add(h.options().meta_ttl_ms);
                Duration::from_millis(until.saturating_sub(now)).max(self.idle_grace)
            }
            _ => self.idle_grace,
        };
        self.idle_timer = Some(ctx.run_later(wait, |act, ctx| {
            act.idle_timer = None;
            if !act.subscribers.is_empty() {
                return;
            }
            if act.kept.as_ref().is_some_and(|k| k.busy(now_ms())) {
                return act.arm_idle_timer(ctx);
            }
            act.registry.do_send(TopicIdle {
                topic: act.name.clone(),
                id: act.id,
                joins_seen: act.joins_seen,
                had_history: act.kept.is_some(),
            });
        }));
    }
}

/// Pushes `frame` (one shared frame: a reference-count increment each) into
/// every subscriber's queue without waiting; drops subscribers whose session
/// is gone. Returns how many queues accepted it.
pub(crate) fn fan_out(
    subscribers: &mut HashMap<SessionId, SessionHandle>,
    frame: &ByteString,
    received: Instant,
    (metrics, namespace): (&Metrics, usize),
) -> usize {
    let frame = OutFrame::published(frame.clone(), received);
    let mut accepted = 0;
    let mut gone = Vec::new();
    for (id, handle) in subscribers.iter() {
        match handle.push_frame(frame.clone()) {
            Pushed::Accepted => accepted += 1,
            Pushed::Slow => {}
            Pushed::Gone => gone.push(*id),
        }
    }
    for id in gone {
        subscribers.remove(&id);
    }
    metrics.fanned_out(namespace, accepted, frame.size());
    accepted
}

impl Actor for Topic {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        Metrics::inc(&self.metrics.topics);
        Metrics::inc(&self.metrics.topics_created_total);
        tracing::debug!(topic = %self.name, "topic started");
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        Metrics::dec(&self.metrics.topics);
        tracing::debug!(topic = %self.name, "topic stopped");
    }
}

impl Handler<CountSubscribers> for Topic {
    type Result = usize;

    fn handle(&mut self, _: CountSubscribers, _: &mut Self::Context) -> usize {
        self.subscribers.len()
    }
}

impl Handler<Join> for Topic {
    type Result = ResponseActFuture<Self, Result<Joined, HubError>>;

    fn handle(&mut self, msg: Join, ctx: &mut Self::Context) -> Self::Result {
        self.joins_seen += 1;
        let id = msg.handle.id;
        let held = self.subscribers.len() + self.catching_up();
        if !self.subscribers.contains_key(&id) && held >= self.max_subscribers {
            self.arm_idle_timer(ctx);
            return Box::pin(fut::ready(Err(HubError::TopicFull {
                topic: self.name.to_string(),
                max: self.max_subscribers,
            })));
        }
        if let Some(timer) = self.idle_timer.take() {
            ctx.cancel_future(timer);
        }
        if let Some(member) = msg.member {
            self.member_joined(id, member);
        }
        if self.needs_catching_up(msg.since.as_ref()) {
            let caught = self.catch_up(msg.handle, msg.since, msg.heard);
            self.told_occupancy();
            return caught;
        }
        let joined = self.begin(msg.since);
        self.subscribers.insert(id, msg.handle);
        self.told_occupancy();
        Box::pin(fut::ready(Ok(joined)))
    }
}

impl Handler<Leave> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Self::Context) {
        self.stop_catching_up(msg.session);
        if self.subscribers.remove(&msg.session).is_some() {
            if let Some(kept) = self.kept.as_mut() {
                kept.history.touch(now_ms());
            }
        }
        self.member_left(msg.session, msg.dropped, ctx);
        self.told_occupancy();
        self.arm_idle_timer(ctx);
    }
}

impl Handler<Retire> for Topic {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
