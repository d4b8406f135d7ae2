//! The topic actor: one per live topic, holding its subscribers.
//!
//! Created by the [`TopicDirectory`](crate::directory::TopicDirectory) on the
//! first subscribe. A publication arrives already encoded; the topic pushes
//! the same shared bytes into every subscriber's queue without waiting, so a
//! slow subscriber never blocks the publisher (it is disconnected instead).
//! When the last subscriber leaves, the topic waits `topic_idle_grace_ms` and
//! then asks the directory to retire it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;

use crate::directory::{TopicDirectory, TopicIdle};
use crate::error::HubError;
use crate::metrics::Metrics;
use crate::outbox::{OutFrame, Pushed, SessionHandle, SessionId};

/// Mailbox capacity: joins, leaves and publications of one topic.
const MAILBOX_CAPACITY: usize = 16_384;

/// Add a subscriber. Replies once the subscriber is in the set, so a publish
/// sent after the client saw its ack reaches it.
#[derive(Message)]
#[rtype(result = "Result<(), HubError>")]
pub(crate) struct Join {
    pub(crate) handle: SessionHandle,
}

/// Remove one subscriber from this topic only.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Leave {
    pub(crate) session: SessionId,
}

/// Fan an encoded `hub:message` out to every subscriber. Replies with how many
/// queues accepted it.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Publish {
    pub(crate) frame: ByteString,
}

/// How many subscribers the topic holds now.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct CountSubscribers;

/// The directory retired this topic; stop.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Retire;

/// The topic actor. See the module docs.
pub(crate) struct Topic {
    name: Arc<str>,
    /// Directory-assigned id, so a stale idle report cannot retire a successor.
    id: u64,
    directory: Addr<TopicDirectory>,
    /// Subscribers by session; O(1) join and leave. Bounded by `max_subscribers`.
    subscribers: HashMap<SessionId, SessionHandle>,
    max_subscribers: usize,
    /// Joins processed, reported with `TopicIdle` so the directory can tell
    /// whether a join is still in flight.
    joins_seen: u64,
    idle_grace: Duration,
    /// The pending idle report, cancelled when someone joins.
    idle_timer: Option<SpawnHandle>,
    metrics: Arc<Metrics>,
}

impl Topic {
    pub(crate) fn new(
        name: Arc<str>,
        id: u64,
        directory: Addr<TopicDirectory>,
        max_subscribers: usize,
        idle_grace: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            name,
            id,
            directory,
            subscribers: HashMap::new(),
            max_subscribers,
            joins_seen: 0,
            idle_grace,
            idle_timer: None,
            metrics,
        }
    }

    fn arm_idle_timer(&mut self, ctx: &mut Context<Self>) {
        if !self.subscribers.is_empty() || self.idle_timer.is_some() {
            return;
        }
        self.idle_timer = Some(ctx.run_later(self.idle_grace, |act, _| {
            act.idle_timer = None;
            if act.subscribers.is_empty() {
                act.directory.do_send(TopicIdle {
                    topic: act.name.clone(),
                    id: act.id,
                    joins_seen: act.joins_seen,
                });
            }
        }));
    }
}

/// Pushes `frame` (one shared frame: a reference-count increment each) into
/// every subscriber's queue without waiting; drops subscribers whose session
/// is gone. Returns how many queues accepted it.
pub(crate) fn fan_out(
    subscribers: &mut HashMap<SessionId, SessionHandle>,
    frame: &ByteString,
) -> usize {
    let frame = OutFrame::text(frame.clone());
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
    type Result = Result<(), HubError>;

    fn handle(&mut self, msg: Join, ctx: &mut Self::Context) -> Self::Result {
        self.joins_seen += 1;
        let id = msg.handle.id;
        if !self.subscribers.contains_key(&id) && self.subscribers.len() >= self.max_subscribers {
            self.arm_idle_timer(ctx);
            return Err(HubError::TopicFull {
                topic: self.name.to_string(),
                max: self.max_subscribers,
            });
        }
        self.subscribers.insert(id, msg.handle);
        if let Some(timer) = self.idle_timer.take() {
            ctx.cancel_future(timer);
        }
        Ok(())
    }
}

impl Handler<Leave> for Topic {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Self::Context) {
        self.subscribers.remove(&msg.session);
        self.arm_idle_timer(ctx);
    }
}

impl Handler<Publish> for Topic {
    type Result = usize;

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) -> usize {
        let accepted = fan_out(&mut self.subscribers, &msg.frame);
        Metrics::inc(&self.metrics.publications_total);
        Metrics::add(&self.metrics.deliveries_total, accepted as u64);
        self.arm_idle_timer(ctx);
        accepted
    }
}

impl Handler<Retire> for Topic {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::handle;

    #[test]
    fn fan_out_counts_accepted_skips_slow_and_drops_gone() {
        let mut subscribers = HashMap::new();
        let (live, mut live_q) = handle(1, 8);
        let (full, _full_q) = handle(2, 1);
        let (gone, gone_q) = handle(3, 8);
        drop(gone_q);
        for h in [live, full, gone] {
            subscribers.insert(h.id, h);
        }
        let frame = ByteString::from_static("{}");
        assert_eq!(
            fan_out(&mut subscribers, &frame),
            2,
            "the full queue takes its first frame"
        );
        assert_eq!(
            fan_out(&mut subscribers, &frame),
            1,
            "then only the live one"
        );
        assert!(
            !subscribers.contains_key(&SessionId(3)),
            "gone sessions are dropped"
        );
        assert!(
            subscribers.contains_key(&SessionId(2)),
            "slow ones stay until their session closes"
        );
        assert_eq!(
            (live_q.try_recv().is_ok(), live_q.try_recv().is_ok()),
            (true, true)
        );
    }
}
