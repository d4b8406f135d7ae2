//! [`RedisPresence`]: topic members for every node of the hub, in Redis.
//!
//! Per topic: a sorted set of member addresses (all of score 0, so a page
//! is a range by address), a hash of their infos and a hash of the node
//! holding each membership; per address, the set of topics it is a member
//! of, so that when the address goes offline (its release or its lease's
//! end, `members_gone.lua`) every membership ends with it — also those of a
//! node that died. Each in the directory shard of its address (a topic's
//! members are spread over the shards), so each change is one atomic
//! script; a page reads every shard's first members and merges them. Joins
//! and leaves are announced on the shard's presence channel by the script
//! that decides them, once; every node's inbound task hands them to its
//! topic actor.
//!
//! Changes leave in the order they were made, through one task that
//! writes what arrived together as one pipeline and writes again what
//! Redis did not take (see `write`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, Value};
use fred::types::scripts::Script;
use futures_util::FutureExt;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::directory::{Keys, Shard};
use super::scripted::{self, Call};
use crate::error::HubError;
use crate::protocol::presence::PRESENCE_PAGE_MAX_BYTES;
use crate::seams::events::EngineEvents;
use crate::seams::presence::{PresenceQuery, PresenceRead, PushTo, SharedPresence, Told};
use crate::seams::{Answer, NodeId};

/// A page of members: (address, info) in address order, the `after` of the
/// next page when more follow, and how many members the topic has.
type MemberPage = (
    Vec<(Arc<str>, Option<Arc<RawValue>>)>,
    Option<Arc<str>>,
    usize,
);

/// Changes written to Redis in one pipeline, at most.
const WRITE_BATCH: usize = 256;

/// The first wait before writing again what Redis did not take; it
/// doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

enum Change {
    Joined {
        topic: String,
        address: String,
        info: String,
    },
    Left {
        topic: String,
        address: String,
    },
}

/// See the module docs.
pub(crate) struct RedisPresence {
    client: Client,
    node: NodeId,
    keys: Arc<Keys>,
    changes: mpsc::UnboundedSender<Change>,
    queued: Arc<AtomicUsize>,
    /// Changes waiting to be written, at most (`redis_presence_queue`);
    /// past it one is dropped (and the address's offline, when it comes,
    /// still ends its memberships).
    max_queued: usize,
    /// A change was dropped since Redis last took every change.
    dropped: Arc<AtomicBool>,
    page: Arc<Script>,
    /// See `SharedPresence::told_later_max` (`redis_presence_told_later`).
    told_later_max: u64,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Starts the writing task on the current runtime.
    pub(super) fn start(
        client: Client,
        node: NodeId,
        keys: Arc<Keys>,
        (max_queued, told_later_max): (usize, u64),
        events: Arc<dyn EngineEvents>,
    ) -> Self {
        let (changes, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicBool::new(false));
        actix_rt::spawn(write(
            client.clone(),
            node,
            keys.clone(),
            rx,
            queued.clone(),
            dropped.clone(),
            events,
        ));
        Self {
            client,
            node,
            keys,
            changes,
            queued,
            max_queued,
            dropped,
            page: Arc::new(Script::from_lua(include_str!("scripts/member_page.lua"))),
            told_later_max: told_later_max.max(1),
        }
    }

    fn enqueue(&self, change: Change) {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            // Told once per spell: the topics hand their members over again
            // once Redis takes writes.
            if !self.dropped.swap(true, Ordering::AcqRel) {
                tracing::warn!(node = %self.node, "presence changes dropped: too many queued");
            }
            return;
        }
        if self.changes.send(change).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The keys of `topic`'s members and `address`'s topics, in `address`'s
/// directory shard.
fn member_keys(shard: &Shard, topic: &str, address: &str) -> Vec<String> {
    let [members, infos, nodes] = shard.member_names(topic);
    vec![members, infos, nodes, shard.topics_of_name(address)]
}

/// The script call that writes `change`.
fn call_of(change: &Change, keys: &Keys, node: &str) -> Call {
    let (topic, address, args) = match change {
        Change::Joined {
            topic,
            address,
            info,
        } => (topic, address, vec![node.to_owned(), info.clone()]),
        Change::Left { topic, address } => (topic, address, vec![node.to_owned()]),
    };
    let shard = keys.shard(address);
    let mut all = vec![topic.clone(), address.clone()];
    all.extend(args);
    all.push(shard.presence_channel.clone());
    Call {
        keys: member_keys(shard, topic, address),
        args: all.into_iter().map(Value::from).collect(),
    }
}

/// The writer task: changes to Redis in the order they were made, what
/// arrived together in one pipeline. A change Redis did not take (away,
/// stalled past the command timeout) is written again, with everything
/// after it, until Redis takes it: both scripts may run twice and decide
/// nothing new the second time. If changes were dropped meanwhile (the
/// queue was full), the topics hand their live members over again once
/// Redis takes writes again.
async fn write(
    client: Client,
    node: NodeId,
    keys: Arc<Keys>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
    events: Arc<dyn EngineEvents>,
) {
    let join = Script::from_lua(include_str!("scripts/member_join.lua"));
    let leave = Script::from_lua(include_str!("scripts/member_leave.lua"));
    let node = node.to_string();
    let mut batch: Vec<Change> = Vec::with_capacity(WRITE_BATCH);
    let mut backoff = RETRY_FIRST;
    let mut failing = false;
    loop {
        if batch.is_empty() && changes.recv_many(&mut batch, WRITE_BATCH).await == 0 {
            return;
        }
        let calls: Vec<Call> = batch.iter().map(|c| call_of(c, &keys, &node)).collect();
        let scripted: Vec<(&Script, &Call)> = batch
            .iter()
            .zip(&calls)
            .map(|(change, call)| match change {
                Change::Joined { .. } => (&join, call),
                Change::Left { .. } => (&leave, call),
            })
            .collect();
        let answers = scripted::each_in_order(&client, &scripted).await;
        let written = answers.iter().take_while(|a| a.is_ok()).count();
        batch.drain(..written);
        queued.fetch_sub(written, Ordering::AcqRel);
        if batch.is_empty() {
            backoff = RETRY_FIRST;
            if std::mem::take(&mut failing) {
                tracing::info!("presence changes are written to redis again");
            }
            if dropped.swap(false, Ordering::AcqRel) {
                events.restored();
            }
            continue;
        }
        if !std::mem::replace(&mut failing, true) {
            let error = answers[written].as_ref().err().map(ToString::to_string);
            tracing::warn!(
                ?error,
                "presence changes are not written to redis: retrying"
            );
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RETRY_MAX);
    }
}

impl SharedPresence for RedisPresence {
    fn told_later_max(&self) -> u64 {
        self.told_later_max
    }

    fn joined(&self, topic: &str, address: &str, info: Option<&RawValue>) -> Told {
        self.enqueue(Change::Joined {
            topic: topic.to_owned(),
            address: address.to_owned(),
            info: info.map(|i| i.get().to_owned()).unwrap_or_default(),
        });
        Told::ByEngine
    }

    fn left(&self, topic: &str, address: &str) -> Told {
        self.enqueue(Change::Left {
            topic: topic.to_owned(),
            address: address.to_owned(),
        });
        Told::ByEngine
    }

    /// Read from Redis, for every node at once; the asker queues the
    /// answer (it is in order with its own frames, not with the events).
    fn read(
        &self,
        topic: &str,
        query: PresenceQuery,
        _push_to: Option<PushTo>,
    ) -> Answer<Result<PresenceRead, HubError>> {
        let (after, limit) = match &query {
            PresenceQuery::Page { after, limit } => (after.as_deref(), *limit),
            PresenceQuery::Count => (None, 0),
        };
        let page = self.page(topic, after, limit);
        Answer::Later(
            async move {
                let (members, next, total) = page.await?;
                Ok(PresenceRead {
                    members,
                    next,
                    total,
                    queued: false,
                })
            }
            .boxed(),
        )
    }
}

impl RedisPresence {
    /// Up to `limit` members of `topic` after `after`, and how many it has:
    /// the first `limit` of each directory shard's, merged in address order.
    fn page(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Answer<Result<MemberPage, HubError>> {
        let (client, script) = (self.client.clone(), self.page.clone());
        let args: Vec<Value> = vec![after.unwrap_or_default().into(), limit.to_string().into()];
        let calls: Vec<Call> = self
            .keys
            .shards()
            .iter()
            .map(|shard| {
                let [members, infos, _] = shard.member_names(topic);
                Call {
                    keys: vec![members, infos],
                    args: args.clone(),
                }
            })
            .collect();
        Answer::Later(
            async move {
                let calls: Vec<&Call> = calls.iter().collect();
                let mut total = 0;
                let mut read: Vec<(String, String)> = Vec::new();
                for answer in scripted::in_order(&client, &script, &calls).await {
                    let out: Vec<String> = answer
                        .and_then(|v| v.convert())
                        .map_err(|_| HubError::Unavailable("topic members (redis)"))?;
                    total += out.first().and_then(|t| t.parse().ok()).unwrap_or(0);
                    let mut pairs = out.into_iter().skip(1);
                    while let (Some(address), Some(info)) = (pairs.next(), pairs.next()) {
                        read.push((address, info));
                    }
                }
                // Redis orders members by their bytes, and so does this.
                read.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Ok(page_of(read, limit, total))
            }
            .boxed(),
        )
    }
}

/// The page of `read` (members in address order, more than `limit` when
/// another page follows) within the bounds of one node's pages: `limit`,
/// and about [`PRESENCE_PAGE_MAX_BYTES`].
fn page_of(read: Vec<(String, String)>, limit: usize, total: usize) -> MemberPage {
    let mut members: Vec<(Arc<str>, Option<Arc<RawValue>>)> = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    for (address, info) in read {
        let size = address.len() + info.len() + 32;
        let full = !members.is_empty() && bytes + size > PRESENCE_PAGE_MAX_BYTES;
        if members.len() == limit || full {
            more = true;
            break;
        }
        bytes += size;
        let info = (!info.is_empty())
            .then(|| RawValue::from_string(info).ok())
            .flatten()
            .map(Arc::from);
        members.push((Arc::from(address), info));
    }
    let next = more
        .then(|| members.last().map(|(a, _)| a.clone()))
        .flatten();
    (members, next, total)
}
