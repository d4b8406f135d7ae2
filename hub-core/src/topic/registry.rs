//! The topic registry actor: topic name → topic actor.
//!
//! Every first subscribe goes through this one mailbox, so a topic actor is
//! created exactly once however many sessions race to subscribe. The directory
//! forwards the join and counts it; a topic that reports itself idle is retired
//! only if every join forwarded to it has been seen, so no subscriber can be
//! handed to a topic that is stopping.
//!
//! The directory also tells the [`Broker`] which topics this node has
//! subscribers for: interest begins when a topic actor is created and ends
//! when it is retired, so a node hears other nodes' publications exactly for
//! the topics it has actors for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use futures_util::future::{BoxFuture, FutureExt, Shared};

use crate::durable::store::StoredTopic;
use crate::error::HubError;
use crate::metrics::Metrics;
use crate::outbox::{SessionHandle, SessionId};
use crate::permissions::{HistoryOptions, NamespaceOptions};
use crate::presence::members::Members;
use crate::presence::Membership;
use crate::seams::broker::Broker;
use crate::seams::history::{History, HistoryBudget, HistoryStore, NodeHistory};
use crate::seams::occupancy::Occupancy;
use crate::seams::presence::SharedPresence;
use crate::seams::{detach, Answer};
use crate::topic::presence::MemoryPresence;
use crate::topic::{now_ms, Join, Joined, Leave, PublishRecorded, Published, Retire, Topic};

/// topic → topic actor; written only by the topic registry actor, read by the
/// router on every publish.
pub(crate) type TopicIndex = Arc<DashMap<Arc<str>, Addr<Topic>>>;

/// Mailbox capacity: every subscribe passes through here.
const MAILBOX_CAPACITY: usize = 65_536;

/// Subscribe `handle` to `topic`, creating the topic on first use. Replies
/// with the topic's address once the topic has added the subscriber.
#[derive(Message)]
#[rtype(result = "Result<(Addr<Topic>, Joined), HubError>")]
pub(crate) struct Subscribe {
    pub(crate) topic: Arc<str>,
    pub(crate) handle: SessionHandle,
    /// Who the subscriber is, for a topic that tracks presence.
    pub(crate) member: Option<Membership>,
    /// How the topic is made if this creates it.
    pub(crate) kind: TopicKind,
    /// (epoch, offset) to recover from.
    pub(crate) since: Option<(Arc<str>, u64)>,
}

/// What a topic's namespace makes of it, for creating it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TopicKind {
    /// Its subscriber cap (its namespace's `max_subscribers`); 0:
    /// `max_subscribers_per_topic`.
    pub(crate) max_subscribers: usize,
    /// Its history, when its namespace keeps one.
    pub(crate) history: Option<HistoryOptions>,
    /// Whether it keeps a member list (`track_presence`).
    pub(crate) presence: bool,
    /// Whether members hear joins and leaves (`join_leave`).
    pub(crate) join_leave: bool,
}

impl TopicKind {
    /// How topics of a namespace with `options` are made.
    pub(crate) fn of(options: &NamespaceOptions) -> Self {
        Self {
            max_subscribers: options.max_subscribers,
            history: options.history(),
            presence: options.track_presence,
            join_leave: options.track_presence && options.join_leave,
        }
    }
}

/// Publish to a topic with history that has no actor (yet) on this node:
/// creates it, so the publication is kept for those who recover later.
#[derive(Message)]
#[rtype(result = "Result<Published, HubError>")]
pub(crate) struct PublishCreating {
    pub(crate) topic: Arc<str>,
    pub(crate) kind: TopicKind,
    pub(crate) publication: PublishRecorded,
}

/// At start: the topics the store kept history for, each with its
/// namespace's options. `clean`: whether the last run stopped cleanly.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Restore {
    pub(crate) topics: Vec<(StoredTopic, TopicKind)>,
    pub(crate) clean: bool,
}

/// Remove `session` from `topic`, ordered after any subscribe this session
/// sent before (used when a session stops with a subscribe still in flight).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct LeaveTopic {
    pub(crate) topic: Arc<str>,
    pub(crate) session: SessionId,
    /// See [`Leave`].
    pub(crate) dropped: bool,
}

/// A topic has had no subscribers for its grace period.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct TopicIdle {
    pub(crate) topic: Arc<str>,
    pub(crate) id: u64,
    pub(crate) joins_seen: u64,
    /// Its history is to be forgotten in the store.
    pub(crate) had_history: bool,
}

struct TopicEntry {
    addr: Addr<Topic>,
    id: u64,
    /// Joins sent to this topic; compared with the topic's count on idle.
    joins_forwarded: u64,
    /// Resolves once the broker hears other nodes' publications to this
    /// topic; `None` when it did at once (one node). A subscribe answers
    /// after it, so a publication made elsewhere after the answer arrives.
    heard: Option<Shared<BoxFuture<'static, ()>>>,
}

/// The topic registry actor. See the module docs.
pub(crate) struct TopicRegistry {
    topics: HashMap<Arc<str>, TopicEntry>,
    /// Read-mostly map for publishers; only this actor writes it.
    index: TopicIndex,
    /// Told when this node's interest in a topic begins and ends.
    broker: Arc<dyn Broker>,
    next_id: u64,
    max_topics: usize,
    max_subscribers: usize,
    idle_grace: Duration,
    metrics: Arc<Metrics>,
    /// The engine's history store, which topics with history go through.
    histories: Arc<dyn HistoryStore>,
    /// The node's bytes of history, shared by its topics.
    history_budget: Arc<HistoryBudget>,
    /// How long a dropped member of a topic with presence lingers.
    offline_grace: Duration,
    /// Topic members as the hub sees them (the engine's).
    presence: Arc<dyn SharedPresence>,
    /// Told when a topic gains its first subscriber and loses its last.
    occupancy: Option<Arc<dyn Occupancy>>,
}

impl TopicRegistry {
    /// Tells `occupancy` when a topic gains its first subscriber here and
    /// loses its last.
    pub(crate) fn with_occupancy(mut self, occupancy: Option<Arc<dyn Occupancy>>) -> Self {
        self.occupancy = occupancy;
        self
    }

    pub(crate) fn new(
        index: TopicIndex,
        broker: Arc<dyn Broker>,
        max_topics: usize,
        max_subscribers: usize,
        idle_grace: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            topics: HashMap::new(),
            broker,
            next_id: 0,
            max_topics,
            max_subscribers,
            idle_grace,
            history_budget: Arc::new(HistoryBudget::new(u64::MAX, metrics.clone())),
            metrics,
            histories: Arc::new(NodeHistory::default()),
            offline_grace: Duration::ZERO,
            occupancy: None,
            presence: Arc::new(MemoryPresence::new(index.clone())),
            index,
        }
    }

    /// Topics with presence hand their members' changes to `presence`
    /// (the engine's; one node's by default).
    pub(crate) fn with_presence(mut self, presence: Arc<dyn SharedPresence>) -> Self {
        self.presence = presence;
        self
    }

    /// Dropped members of topics with presence linger for `grace`.
    pub(crate) fn with_offline_grace(mut self, grace: Duration) -> Self {
        self.offline_grace = grace;
        self
    }

    /// Bounds the bytes every topic's history keeps together.
    pub(crate) fn with_history_budget(mut self, max_bytes: u64) -> Self {
        self.history_budget = Arc::new(HistoryBudget::new(max_bytes, self.metrics.clone()));
        self
    }

    /// Topics with history go through `histories` (the engine's; one
    /// node's, in memory only, by default).
    pub(crate) fn with_histories(mut self, histories: Arc<dyn HistoryStore>) -> Self {
        self.histories = histories;
        self
    }

    /// The topic's actor, created on first use (with `restored` history, or
    /// a new one when its namespace keeps history). `first`: a message to
    /// enqueue before any publisher can find the new actor in the index,
    /// so a publication that creates a topic stays ahead of its successors.
    fn get_or_create<M>(
        &mut self,
        topic: &Arc<str>,
        kind: TopicKind,
        restored: Option<History>,
        me: Addr<Self>,
        first: impl FnOnce(&Addr<Topic>) -> M,
    ) -> Result<(&mut TopicEntry, Option<M>), HubError> {
        let mut sent = None;
        if !self.topics.contains_key(topic) {
            if self.topics.len() >= self.max_topics {
                return Err(HubError::TopicLimitReached(self.max_topics));
            }
            self.next_id += 1;
            let id = self.next_id;
            let mut actor = Topic::new(
                topic.clone(),
                id,
                me,
                if kind.max_subscribers == 0 {
                    self.max_subscribers
                } else {
                    kind.max_subscribers
                },
                self.idle_grace,
                self.metrics.clone(),
            )
            .with_occupancy(self.occupancy.clone());
            let options = restored.as_ref().map(History::options).or(kind.history);
            if let Some(options) = options {
                let budget = self.history_budget.clone();
                let history = self.histories.open(options, budget, restored, now_ms());
                actor = actor.with_history(history, self.histories.clone());
            }
            if kind.presence {
                let shared = self.presence.clone();
                actor =
                    actor.with_members(Members::new(self.offline_grace), kind.join_leave, shared);
            }
            let addr = actor.start();
            sent = Some(first(&addr));
            self.index.insert(topic.clone(), addr.clone());
            let heard = match self
                .broker
                .subscribe(std::slice::from_ref(topic))
                .into_now()
            {
                Ok(done) => {
                    detach(Answer::now(done), "broker subscribe");
                    None
                }
                Err(later) => Some(
                    later
                        .map(|done| detach(Answer::now(done), "broker subscribe"))
                        .boxed()
                        .shared(),
                ),
            };
            self.topics.insert(
                topic.clone(),
                TopicEntry {
                    addr,
                    id,
                    joins_forwarded: 0,
                    heard,
                },
            );
        }
        Ok((self.topics.get_mut(topic).expect("inserted above"), sent))
    }
}

impl Actor for TopicRegistry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl Handler<Subscribe> for TopicRegistry {
    type Result = ResponseFuture<Result<(Addr<Topic>, Joined), HubError>>;

    fn handle(&mut self, msg: Subscribe, ctx: &mut Self::Context) -> Self::Result {
        let created = self.get_or_create(&msg.topic, msg.kind, None, ctx.address(), |_| ());
        let entry = match created {
            Ok((entry, _)) => entry,
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        entry.joins_forwarded += 1;
        let addr = entry.addr.clone();
        let heard = entry.heard.clone();
        // `send` enqueues now, inside this handler, so the join is ordered
        // before any later message the directory sends to the topic.
        let join = addr.send(Join {
            handle: msg.handle,
            since: msg.since,
            member: msg.member,
            heard: heard.clone(),
        });
        Box::pin(async move {
            let joined = join
                .await
                .map_err(|_| HubError::Internal("topic actor stopped"))??;
            if let Some(heard) = heard {
                heard.await;
            }
            Ok((addr, joined))
        })
    }
}

impl Handler<PublishCreating> for TopicRegistry {
    type Result = ResponseFuture<Result<Published, HubError>>;

    fn handle(&mut self, msg: PublishCreating, ctx: &mut Self::Context) -> Self::Result {
        let PublishCreating {
            topic,
            kind,
            publication,
        } = msg;
        let mut publication = Some(publication);
        let created = self.get_or_create(&topic, kind, None, ctx.address(), |addr| {
            addr.send(publication.take().expect("sent once"))
        });
        let sent = match created {
            Err(e) => return Box::pin(std::future::ready(Err(e))),
            Ok((_, Some(sent))) => sent,
            // Created meanwhile by a subscribe: the actor is in the index.
            Ok((entry, None)) => entry.addr.send(publication.take().expect("not sent")),
        };
        Box::pin(async move {
            sent.await
                .map_err(|_| HubError::Internal("topic actor stopped"))?
        })
    }
}

impl Handler<Restore> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: Restore, ctx: &mut Self::Context) {
        let now = now_ms();
        for (stored, kind) in msg.topics {
            let Some(options) = kind.history else {
                continue;
            };
            let topic = stored.topic.clone();
            let budget = self.history_budget.clone();
            let history = History::restore(options, budget, stored, msg.clean, now);
            if history.forgettable(now) {
                self.histories.forget(topic);
                continue;
            }
            let created = self.get_or_create(&topic, kind, Some(history), ctx.address(), |_| ());
            if let Err(e) = created {
                tracing::warn!(%topic, error = %e, "a topic's history was not restored");
            }
        }
    }
}

impl Handler<LeaveTopic> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: LeaveTopic, _: &mut Self::Context) {
        if let Some(entry) = self.topics.get(&msg.topic) {
            entry.addr.do_send(Leave {
                session: msg.session,
                dropped: msg.dropped,
            });
        }
    }
}

impl Handler<TopicIdle> for TopicRegistry {
    type Result = ();

    fn handle(&mut self, msg: TopicIdle, _: &mut Self::Context) {
        if let Some(addr) = self.retire(&msg) {
            addr.do_send(Retire);
            // Sent from here, before a successor can record anything.
            if msg.had_history {
                self.histories.forget(msg.topic.clone());
            }
            let retired = std::slice::from_ref(&msg.topic);
            if let Err(later) = self.broker.unsubscribe(retired).into_now() {
                actix_rt::spawn(later);
            }
        }
    }
}

impl TopicRegistry {
    /// The retire rule: forgets the topic that reported itself idle, unless
    /// the report is stale — from a predecessor (another id), or sent before
    /// a join the directory has forwarded since (fewer joins seen than
    /// forwarded: the topic is about to have a subscriber). Returns the
    /// retired topic's actor, to be stopped.
    fn retire(&mut self, idle: &TopicIdle) -> Option<Addr<Topic>> {
        let entry = self.topics.get(&idle.topic)?;
        if entry.id != idle.id || entry.joins_forwarded != idle.joins_seen {
            return None;
        }
        self.index.remove(&idle.topic);
        self.topics.remove(&idle.topic).map(|entry| entry.addr)
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
