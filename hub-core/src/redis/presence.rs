//! [`RedisPresence`]: topic members for every node of the hub, in Redis.
//!
//! Per topic: a sorted set of member addresses (all of score 0, so a page
//! is a range by address), a hash of their infos and a hash of the node
//! holding each membership; per address, the set of topics it is a member
//! of, so that when the address goes offline (its release or its lease's
//! end, `members_gone.lua`) every membership ends with it — also those of a
//! node that died. All under the directory's hash tag, so each change is
//! one atomic script. Joins and leaves are announced on the presence
//! channel by the script that decides them, once; every node's inbound task
//! hands them to its topic actor.
//!
//! Changes leave in the order they were made, through one task.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fred::prelude::{Client, Key};
use fred::types::scripts::Script;
use futures_util::FutureExt;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::directory::Keys;
use crate::error::HubError;
use crate::protocol::presence::PRESENCE_PAGE_MAX_BYTES;
use crate::seams::presence::{MemberPage, SharedPresence};
use crate::seams::{Answer, NodeId};

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
    page: Arc<Script>,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").finish_non_exhaustive()
    }
}

impl RedisPresence {
    /// Starts the writing task on the current runtime.
    pub(super) fn start(client: Client, node: NodeId, keys: Arc<Keys>, max_queued: usize) -> Self {
        let (changes, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        actix_rt::spawn(write(
            client.clone(),
            node,
            keys.clone(),
            rx,
            queued.clone(),
        ));
        Self {
            client,
            node,
            keys,
            changes,
            queued,
            max_queued,
            page: Arc::new(Script::from_lua(include_str!("scripts/member_page.lua"))),
        }
    }

    fn enqueue(&self, change: Change) {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(node = %self.node, "a presence change was dropped: too many queued");
            return;
        }
        if self.changes.send(change).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The keys of `topic`'s members and `address`'s topics.
fn member_keys(keys: &Keys, topic: &str, address: &str) -> Vec<Key> {
    let tag = &keys.tag;
    vec![
        Key::from(format!("{tag}m:{topic}")),
        Key::from(format!("{tag}mi:{topic}")),
        Key::from(format!("{tag}mn:{topic}")),
        Key::from(format!("{tag}at:{address}")),
    ]
}

async fn write(
    client: Client,
    node: NodeId,
    keys: Arc<Keys>,
    mut changes: mpsc::UnboundedReceiver<Change>,
    queued: Arc<AtomicUsize>,
) {
    let join = Script::from_lua(include_str!("scripts/member_join.lua"));
    let leave = Script::from_lua(include_str!("scripts/member_leave.lua"));
    let node = node.to_string();
    while let Some(change) = changes.recv().await {
        queued.fetch_sub(1, Ordering::AcqRel);
        let written: Result<i64, _> = match change {
            Change::Joined {
                topic,
                address,
                info,
            } => {
                let args = vec![
                    topic.clone(),
                    address.clone(),
                    node.clone(),
                    info,
                    keys.presence_channel.clone(),
                ];
                let keys = member_keys(&keys, &topic, &address);
                join.evalsha_with_reload(&client, keys, args).await
            }
            Change::Left { topic, address } => {
                let args = vec![
                    topic.clone(),
                    address.clone(),
                    node.clone(),
                    keys.presence_channel.clone(),
                ];
                let keys = member_keys(&keys, &topic, &address);
                leave.evalsha_with_reload(&client, keys, args).await
            }
        };
        if let Err(error) = written {
            tracing::warn!(%error, "a presence change was not written to redis");
        }
    }
}

impl SharedPresence for RedisPresence {
    fn joined(&self, topic: &str, address: &str, info: Option<&RawValue>) {
        self.enqueue(Change::Joined {
            topic: topic.to_owned(),
            address: address.to_owned(),
            info: info.map(|i| i.get().to_owned()).unwrap_or_default(),
        });
    }

    fn left(&self, topic: &str, address: &str) {
        self.enqueue(Change::Left {
            topic: topic.to_owned(),
            address: address.to_owned(),
        });
    }

    fn page(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Answer<Result<MemberPage, HubError>> {
        let (client, script) = (self.client.clone(), self.page.clone());
        let tag = &self.keys.tag;
        let keys = vec![
            Key::from(format!("{tag}m:{topic}")),
            Key::from(format!("{tag}mi:{topic}")),
        ];
        let args = vec![after.unwrap_or_default().to_owned(), limit.to_string()];
        Answer::Later(
            async move {
                let out: Vec<String> = script
                    .evalsha_with_reload(&client, keys, args)
                    .await
                    .map_err(|_| HubError::Unavailable("topic members (redis)"))?;
                let total = out.first().and_then(|t| t.parse().ok()).unwrap_or(0);
                let read = out.get(1..).unwrap_or_default();
                let mut members: Vec<(Arc<str>, Option<Arc<RawValue>>)> = Vec::new();
                let mut bytes = 0;
                let mut more = false;
                for pair in read.chunks_exact(2) {
                    // The same bounds as one node's pages: `limit`, and
                    // about PRESENCE_PAGE_MAX_BYTES.
                    let size = pair[0].len() + pair[1].len() + 32;
                    let full = !members.is_empty() && bytes + size > PRESENCE_PAGE_MAX_BYTES;
                    if members.len() == limit || full {
                        more = true;
                        break;
                    }
                    bytes += size;
                    let info = (!pair[1].is_empty())
                        .then(|| RawValue::from_string(pair[1].clone()).ok())
                        .flatten()
                        .map(Arc::from);
                    members.push((Arc::from(pair[0].as_str()), info));
                }
                let next = more
                    .then(|| members.last().map(|(a, _)| a.clone()))
                    .flatten();
                Ok((members, next, total))
            }
            .boxed(),
        )
    }
}
