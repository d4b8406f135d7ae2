//! [`RedisAddressDirectory`]: who holds each address, across every node of
//! the hub, in Redis.
//!
//! Each holding is a hash (`kind`, `node`, `session`, `epoch`, `lingering`)
//! beside a sorted set of deadlines (lease ends and grace windows, by Redis
//! time, so the nodes' clocks do not matter), and the epochs come from one
//! counter. Every change is a Lua script, atomic in Redis, so racing claims
//! on different nodes resolve to one holder: the last claim wins and the
//! script tells the evicted session's node on its channel. Each presence
//! transition is decided by exactly one script run and announced by that
//! run on the presence channel, which every node hears (the inbound task
//! hands it to the registry); a node that dies stops renewing, and the first
//! node whose lease alarm finds the lease run out announces the offline.
//!
//! A count of held addresses per shard bounds them hub-wide
//! (`max_registered`, split evenly over the shards).
//!
//! Everything about one address lives in one directory shard, under that
//! shard's hash tag (`directory_keys.rs`), so each script is in one slot
//! and runs on a Redis Cluster too, whose primaries share the shards; the
//! directory's traffic is per connect, disconnect and lease renewal, not
//! per message. Every node must use the hub's shard count
//! (`directory_agreement.rs`).
//!
//! Claims and releases go to Redis in the order the registry makes them,
//! through one task that sends what arrived together as one run of one
//! script per shard it touches, in one pipeline (`directory_writes.rs`):
//! the registry need not wait for one claim's answer before making the
//! next, and a burst of connects costs one round trip per batch, not per
//! connect. Each is
//! queued when it is made, not when its answer is awaited, so the order
//! is the registry's.
//!
//! Only watched addresses are announced: `watch` marks them in a sorted
//! set, by when the mark runs out, and the registry marks its watched
//! addresses again within every time to live.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{Client, Value};
use fred::types::scripts::Script;
use futures_util::FutureExt;

use super::scripted::{self, Call};
use crate::error::HubError;
use crate::outbox::SessionId;
use crate::seams::addresses::{AddressDirectory, Epoch, Expired, Grant, Holder, Lease, Released};
use crate::seams::{Answer, NodeId};

#[path = "directory_agreement.rs"]
mod agreement;
#[path = "directory_keys.rs"]
mod keys;
#[path = "directory_users.rs"]
mod users;
#[path = "directory_writes.rs"]
mod writes;
pub(super) use agreement::Agreement;
pub(super) use keys::{Keys, Shard};

/// Leases popped by one run of the expiry script, at most.
const EXPIRE_BATCH: usize = 1_000;

/// Addresses marked watched (and read) by one script run, at most.
const WATCH_BATCH: usize = 1_000;

/// The directory. See the module docs.
pub(crate) struct RedisAddressDirectory {
    client: Client,
    node: NodeId,
    /// Addresses held at once in the whole hub (`max_registered`).
    max_held: usize,
    /// Connections per user in the whole hub (`user_connection_limit`).
    user_limit: usize,
    keys: Arc<Keys>,
    /// Claims and releases, to Redis in the registry's order.
    writes: writes::Writer,
    renew: Arc<Script>,
    expire: Arc<Script>,
    watch: Arc<Script>,
    /// Whether this node's shard count is the hub's.
    agreement: Arc<Agreement>,
}

impl std::fmt::Debug for RedisAddressDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAddressDirectory")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl RedisAddressDirectory {
    /// Starts the writer task on the current runtime.
    pub(super) fn new(
        client: Client,
        node: NodeId,
        (keys, agreement): (Arc<Keys>, Arc<Agreement>),
        (max_held, user_limit): (usize, usize),
    ) -> Self {
        let script = |lua: &'static str| Arc::new(Script::from_lua(lua));
        Self {
            writes: writes::Writer::start(
                client.clone(),
                keys.clone(),
                node,
                (max_held, user_limit),
            ),
            agreement,
            client,
            node,
            max_held,
            user_limit,
            keys,
            renew: script(concat!(
                include_str!("scripts/connections.lua"),
                include_str!("scripts/announce.lua"),
                include_str!("scripts/renew.lua")
            )),
            expire: script(concat!(
                include_str!("scripts/connections.lua"),
                include_str!("scripts/members_gone.lua"),
                include_str!("scripts/announce.lua"),
                include_str!("scripts/expire.lua")
            )),
            watch: script(include_str!("scripts/watch.lua")),
        }
    }
}

/// A Redis failure, as the registry's callers see it.
fn unavailable(error: fred::error::Error) -> HubError {
    tracing::warn!(error = %super::link_log::said(&error), "redis address directory");
    HubError::Unavailable("the address directory (redis) did not answer")
}

fn holder_fields(holder: Holder) -> (&'static str, String, String) {
    match holder {
        Holder::Session { node, session } => ("s", node.to_string(), session.0.to_string()),
        Holder::Local { node } => ("l", node.to_string(), "0".into()),
    }
}

/// The holder named by a script's `kind`, `node`, `session`.
pub(super) fn holder_of(kind: &str, node: &str, session: &str) -> Option<Holder> {
    let node = NodeId(u64::from_str_radix(node, 16).ok()?);
    match kind {
        "s" => Some(Holder::Session {
            node,
            session: SessionId(session.parse().ok()?),
        }),
        "l" => Some(Holder::Local { node }),
        _ => None,
    }
}

/// A script's answer as its strings, shared with the reply (not copied).
fn strings(answer: Value) -> Option<Vec<fred::bytes_utils::Str>> {
    match answer {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

pub(super) fn epoch_of(text: &str) -> Option<Epoch> {
    text.parse().ok().map(Epoch)
}

/// The strings `calls` of `script` answered, one shard's after another's;
/// a shard that did not answer adds none.
async fn lines(client: &Client, script: &Script, calls: &[Call]) -> Vec<String> {
    let calls: Vec<&Call> = calls.iter().collect();
    let mut lines = Vec::new();
    for answer in scripted::in_order(client, script, &calls).await {
        match answer.and_then(|v| v.convert::<Vec<String>>()) {
            Ok(more) => lines.extend(more),
            Err(error) => drop(unavailable(error)),
        }
    }
    lines
}

/// `items` grouped by the shard their address lives in, each group in
/// the order given.
fn by_shard<T>(
    keys: &Keys,
    items: impl IntoIterator<Item = T>,
    address: impl Fn(&T) -> &str,
) -> Vec<(&Shard, Vec<T>)> {
    let mut groups: Vec<Vec<T>> = keys.shards().iter().map(|_| Vec::new()).collect();
    for item in items {
        groups[keys.shard_index(address(&item))].push(item);
    }
    keys.shards()
        .iter()
        .zip(groups)
        .filter(|(_, group)| !group.is_empty())
        .collect()
}

fn ms(duration: Duration) -> String {
    duration.as_millis().to_string()
}

impl AddressDirectory for RedisAddressDirectory {
    fn claim(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
    ) -> Answer<Result<Grant, HubError>> {
        self.claim_for(address, holder, ttl, None)
    }

    fn claim_for(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
        client: Option<&Arc<str>>,
    ) -> Answer<Result<Grant, HubError>> {
        if self.agreement.differs().is_some() {
            return Answer::now(Err(HubError::Unavailable(
                "the address directory: this node's redis_directory_shards is not the hub's",
            )));
        }
        let address = address.clone();
        let (max_held, user_limit) = (self.max_held, self.user_limit);
        let written = self.writes.write(writes::Write::Claim {
            address: address.clone(),
            holder,
            ttl,
            client: client.cloned(),
        });
        Answer::Later(
            async move {
                let answer = written.await.map_err(unavailable)?;
                let answer = strings(answer).unwrap_or_default();
                let answer: Vec<&str> = answer.iter().map(|s| &**s).collect();
                match answer.as_slice() {
                    ["reserved"] => Err(HubError::AddressReserved(address.to_string())),
                    ["full"] => Err(HubError::RegistryFull(max_held)),
                    ["user_full"] => Err(HubError::TooManyUserConnections {
                        user: crate::protocol::user_of(&address)
                            .unwrap_or(&address)
                            .to_owned(),
                        max: user_limit,
                    }),
                    ["ok", epoch, came_online, kind, node, session, old_epoch, user_online] => {
                        let epoch = epoch_of(epoch)
                            .ok_or(HubError::Internal("the directory sent a bad epoch"))?;
                        let evicted = holder_of(kind, node, session).zip(epoch_of(old_epoch)).map(
                            |(holder, epoch)| Lease {
                                address: address.clone(),
                                holder,
                                epoch,
                            },
                        );
                        Ok(Grant {
                            epoch,
                            evicted,
                            came_online: *came_online == "1",
                            // Decided once, by the script: announced by it
                            // to the watchers, told here to the lifecycle.
                            user_came_online: *user_online == "1",
                        })
                    }
                    _ => Err(HubError::Internal("the directory sent a bad claim answer")),
                }
            }
            .boxed(),
        )
    }

    fn release(&mut self, address: &Arc<str>, epoch: Epoch, grace: Duration) -> Answer<Released> {
        let written = self.writes.write(writes::Write::Release {
            address: address.clone(),
            epoch,
            grace,
        });
        Answer::Later(
            async move {
                let answer = written.await.map_err(unavailable).ok().and_then(strings);
                match answer.as_deref() {
                    Some([ended, went_offline, user_went]) => Released {
                        ended: &**ended == "1",
                        went_offline: &**went_offline == "1",
                        user_went_offline: &**user_went == "1",
                    },
                    // Not released in Redis: the lease runs out instead.
                    _ => Released {
                        ended: true,
                        went_offline: false,
                        user_went_offline: false,
                    },
                }
            }
            .boxed(),
        )
    }

    fn renew(&mut self, leases: &[Lease], ttl: Duration) -> Answer<Vec<Arc<str>>> {
        let (client, script) = (self.client.clone(), self.renew.clone());
        let calls: Vec<Call> = by_shard(&self.keys, leases, |l| &l.address)
            .into_iter()
            .map(|(shard, leases)| {
                let mut call = Call {
                    keys: vec![shard.deadlines_name()],
                    args: [
                        ms(ttl),
                        shard.epoch_name(),
                        shard.held_name(),
                        shard.presence_channel.clone(),
                        shard.watched_name(),
                        shard.tag.clone(),
                    ]
                    .into_iter()
                    .map(Value::from)
                    .collect(),
                };
                for lease in leases {
                    let (kind, node, session) = holder_fields(lease.holder);
                    call.keys.push(shard.holding_name(&lease.address));
                    call.args.extend([
                        Value::from(&*lease.address),
                        Value::from(lease.epoch.0.to_string()),
                        Value::from_static_str(kind),
                        Value::from(node),
                        Value::from(session),
                    ]);
                }
                call
            })
            .collect();
        let leases = leases.to_vec();
        Answer::Later(
            async move {
                // Unknown: keep acting; the next renewal asks again.
                let lost = lines(&client, &script, &calls).await;
                leases
                    .into_iter()
                    .map(|lease| lease.address)
                    .filter(|address| lost.iter().any(|l| **l == **address))
                    .collect()
            }
            .boxed(),
        )
    }

    fn expire(&mut self, _now: Instant) -> Answer<Vec<Expired>> {
        let (client, keys, script) = (self.client.clone(), self.keys.clone(), self.expire.clone());
        let me = self.node;
        let agreement = self.agreement.clone();
        let calls: Vec<Call> = keys
            .shards()
            .iter()
            .map(|shard| Call {
                keys: vec![shard.deadlines_name()],
                args: [
                    shard.holding_prefix(),
                    shard.presence_channel.clone(),
                    EXPIRE_BATCH.to_string(),
                    shard.tag.clone(),
                ]
                .into_iter()
                .map(Value::from)
                .collect(),
            })
            .collect();
        Answer::Later(
            async move {
                agreement.check(&client, &keys).await;
                let popped = lines(&client, &script, &calls).await;
                let (mut expired, unseen) = super::directory_lost::read_expired(&popped, me);
                super::directory_lost::mark_lost(&client, &keys, &mut expired, unseen).await;
                expired
            }
            .boxed(),
        )
    }

    fn locate(&self, address: &str) -> Answer<Option<Lease>> {
        use fred::interfaces::HashesInterface;
        let (client, keys) = (self.client.clone(), self.keys.clone());
        let address: Arc<str> = address.into();
        Answer::Later(
            async move {
                let fields: Vec<Option<String>> = client
                    .hmget(
                        keys.shard(&address).holding(&address),
                        vec!["kind", "node", "session", "epoch", "lingering"],
                    )
                    .await
                    .ok()?;
                let [Some(kind), Some(node), Some(session), Some(epoch), Some(lingering)] =
                    fields.as_slice()
                else {
                    return None;
                };
                if lingering != "0" {
                    return None;
                }
                Some(Lease {
                    holder: holder_of(kind, node, session)?,
                    epoch: epoch_of(epoch)?,
                    address,
                })
            }
            .boxed(),
        )
    }

    fn online(&self, address: &str) -> Answer<Result<bool, HubError>> {
        use fred::prelude::KeysInterface;
        let (client, keys) = (self.client.clone(), self.keys.clone());
        let key = keys.online_name(address);
        Answer::Later(
            async move {
                let held = client.exists::<u64, _>(key).await.map_err(unavailable)?;
                Ok(held > 0)
            }
            .boxed(),
        )
    }

    fn connections_of(
        &self,
        user: &str,
    ) -> Answer<Result<crate::seams::addresses::Connections, HubError>> {
        let (client, keys) = (self.client.clone(), self.keys.clone());
        Answer::Later(users::connections_of(client, keys, user.into()).boxed())
    }

    fn watch(&self, addresses: &[Arc<str>], ttl: Duration) -> Answer<Result<Vec<bool>, HubError>> {
        let (client, keys, script) = (self.client.clone(), self.keys.clone(), self.watch.clone());
        // Answered per shard: put back in the order asked.
        let mut order: Vec<usize> = Vec::with_capacity(addresses.len());
        let mut calls: Vec<Call> = Vec::new();
        for (shard, addresses) in by_shard(&keys, addresses.iter().enumerate(), |(_, a)| a) {
            for chunk in addresses.chunks(WATCH_BATCH) {
                order.extend(chunk.iter().map(|(at, _)| *at));
                calls.push(Call {
                    keys: std::iter::once(shard.watched_name())
                        .chain(chunk.iter().map(|(_, a)| keys.online_name(a)))
                        .collect(),
                    args: std::iter::once(Value::from(ms(ttl)))
                        .chain(chunk.iter().map(|(_, a)| Value::from(&***a)))
                        .collect(),
                });
            }
        }
        Answer::Later(
            async move {
                let calls: Vec<&Call> = calls.iter().collect();
                let mut online = vec![false; order.len()];
                let mut next = order.iter();
                for answer in scripted::in_order(&client, &script, &calls).await {
                    let answer: Vec<String> =
                        answer.and_then(|v| v.convert()).map_err(unavailable)?;
                    for (held, at) in answer.iter().zip(next.by_ref()) {
                        online[*at] = held == "1";
                    }
                }
                Ok(online)
            }
            .boxed(),
        )
    }

    fn announces_transitions(&self) -> bool {
        true
    }
}
