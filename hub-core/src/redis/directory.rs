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
//! A count of held addresses bounds them hub-wide (`max_registered`).
//!
//! All keys share one hash slot (their tag is the hub's prefix), so the
//! scripts also run on a Redis Cluster; the directory's traffic is per
//! connect, disconnect and lease renewal, not per message.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{Client, Key};
use fred::types::scripts::Script;
use futures_util::FutureExt;

use super::RedisOptions;
use crate::error::HubError;
use crate::outbox::SessionId;
use crate::seams::addresses::{AddressDirectory, Epoch, Expired, Grant, Holder, Lease, Released};
use crate::seams::{Answer, NodeId};

/// Leases popped by one run of the expiry script, at most.
const EXPIRE_BATCH: usize = 1_000;

/// The directory. See the module docs.
pub(crate) struct RedisAddressDirectory {
    client: Client,
    node: NodeId,
    /// Addresses held at once in the whole hub (`max_registered`).
    max_held: usize,
    keys: Arc<Keys>,
    claim: Arc<Script>,
    release: Arc<Script>,
    renew: Arc<Script>,
    expire: Arc<Script>,
}

impl std::fmt::Debug for RedisAddressDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAddressDirectory")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The names of the directory's keys and channels.
#[derive(Debug)]
pub(super) struct Keys {
    /// `{prefix + "dir"}`: every key's hash tag.
    pub(super) tag: String,
    pub(super) node_channel_prefix: String,
    pub(super) presence_channel: String,
    /// Every node hears `"*"` broadcasts here.
    pub(super) everyone_channel: String,
}

impl Keys {
    pub(super) fn new(options: &RedisOptions) -> Self {
        // Channels too carry the tag: they are sharded channels, and a
        // script may only publish on a channel of its keys' slot.
        let tag = format!("{{{}dir}}", options.prefix);
        Self {
            node_channel_prefix: format!("{tag}n:"),
            presence_channel: format!("{tag}presence"),
            everyone_channel: format!("{tag}everyone"),
            tag,
        }
    }

    pub(super) fn holding(&self, address: &str) -> Key {
        Key::from(self.holding_name(address))
    }

    pub(super) fn holding_name(&self, address: &str) -> String {
        format!("{}a:{address}", self.tag)
    }

    fn holding_prefix(&self) -> String {
        format!("{}a:", self.tag)
    }

    fn deadlines(&self) -> Key {
        Key::from(format!("{}deadlines", self.tag))
    }

    fn epoch(&self) -> Key {
        Key::from(format!("{}epoch", self.tag))
    }

    /// How many addresses are held (or lingering) in the hub.
    fn held(&self) -> Key {
        Key::from(format!("{}held", self.tag))
    }

    /// The channel of messages to `node`.
    pub(super) fn node_channel(&self, node: NodeId) -> String {
        format!("{}{node}", self.node_channel_prefix)
    }
}

impl RedisAddressDirectory {
    pub(super) fn new(client: Client, node: NodeId, keys: Arc<Keys>, max_held: usize) -> Self {
        let script = |lua: &'static str| Arc::new(Script::from_lua(lua));
        Self {
            client,
            node,
            max_held,
            keys,
            claim: script(include_str!("scripts/claim.lua")),
            release: script(concat!(
                include_str!("scripts/members_gone.lua"),
                include_str!("scripts/release.lua")
            )),
            renew: script(include_str!("scripts/renew.lua")),
            expire: script(concat!(
                include_str!("scripts/members_gone.lua"),
                include_str!("scripts/expire.lua")
            )),
        }
    }
}

/// A Redis failure, as the registry's callers see it.
fn unavailable(error: fred::error::Error) -> HubError {
    tracing::warn!(%error, "redis address directory");
    HubError::Unavailable("the address directory (redis) did not answer")
}

fn holder_fields(holder: Holder) -> (&'static str, String, String) {
    match holder {
        Holder::Session { node, session } => ("s", node.to_string(), session.0.to_string()),
        Holder::Local { node } => ("l", node.to_string(), "0".into()),
    }
}

/// The holder named by a script's `kind`, `node`, `session`.
fn holder_of(kind: &str, node: &str, session: &str) -> Option<Holder> {
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

fn epoch_of(text: &str) -> Option<Epoch> {
    text.parse().ok().map(Epoch)
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
        let (client, keys, script) = (self.client.clone(), self.keys.clone(), self.claim.clone());
        let address = address.clone();
        let (kind, node, session) = holder_fields(holder);
        let max_held = self.max_held;
        Answer::Later(
            async move {
                let args = vec![
                    address.to_string(),
                    kind.to_owned(),
                    node,
                    session,
                    ms(ttl),
                    keys.node_channel_prefix.clone(),
                    keys.presence_channel.clone(),
                    max_held.to_string(),
                ];
                let held = vec![
                    keys.holding(&address),
                    keys.deadlines(),
                    keys.epoch(),
                    keys.held(),
                ];
                let answer: Vec<String> = script
                    .evalsha_with_reload(&client, held, args)
                    .await
                    .map_err(unavailable)?;
                match answer.as_slice() {
                    [reserved] if reserved == "reserved" => {
                        Err(HubError::AddressReserved(address.to_string()))
                    }
                    [full] if full == "full" => Err(HubError::RegistryFull(max_held)),
                    [ok, epoch, came_online, kind, node, session, old_epoch] if ok == "ok" => {
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
                            came_online: came_online == "1",
                        })
                    }
                    _ => Err(HubError::Internal("the directory sent a bad claim answer")),
                }
            }
            .boxed(),
        )
    }

    fn release(&mut self, address: &Arc<str>, epoch: Epoch, grace: Duration) -> Answer<Released> {
        let (client, keys, script) = (self.client.clone(), self.keys.clone(), self.release.clone());
        let address = address.clone();
        Answer::Later(
            async move {
                let args = vec![
                    address.to_string(),
                    epoch.0.to_string(),
                    ms(grace),
                    keys.presence_channel.clone(),
                    keys.tag.clone(),
                ];
                let answer: Result<Vec<String>, _> = script
                    .evalsha_with_reload(
                        &client,
                        vec![keys.holding(&address), keys.deadlines()],
                        args,
                    )
                    .await;
                match answer.map_err(unavailable).as_deref() {
                    Ok([ended, went_offline]) => Released {
                        ended: ended == "1",
                        went_offline: went_offline == "1",
                    },
                    // Not released in Redis: the lease runs out instead.
                    _ => Released {
                        ended: true,
                        went_offline: false,
                    },
                }
            }
            .boxed(),
        )
    }

    fn renew(&mut self, leases: &[Lease], ttl: Duration) -> Answer<Vec<Arc<str>>> {
        let (client, keys, script) = (self.client.clone(), self.keys.clone(), self.renew.clone());
        let leases = leases.to_vec();
        Answer::Later(
            async move {
                let mut key_list = vec![keys.deadlines()];
                let mut args = vec![
                    ms(ttl),
                    format!("{}epoch", keys.tag),
                    format!("{}held", keys.tag),
                    keys.presence_channel.clone(),
                ];
                for lease in &leases {
                    let (kind, node, session) = holder_fields(lease.holder);
                    key_list.push(keys.holding(&lease.address));
                    args.extend([
                        lease.address.to_string(),
                        lease.epoch.0.to_string(),
                        kind.to_owned(),
                        node,
                        session,
                    ]);
                }
                let lost: Vec<String> =
                    match script.evalsha_with_reload(&client, key_list, args).await {
                        Ok(lost) => lost,
                        // Unknown: keep acting; the next renewal asks again.
                        Err(error) => {
                            unavailable(error);
                            return Vec::new();
                        }
                    };
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
        Answer::Later(
            async move {
                let args = vec![
                    keys.holding_prefix(),
                    keys.presence_channel.clone(),
                    EXPIRE_BATCH.to_string(),
                    keys.tag.clone(),
                ];
                let popped: Vec<String> = match script
                    .evalsha_with_reload(&client, vec![keys.deadlines()], args)
                    .await
                {
                    Ok(popped) => popped,
                    Err(error) => {
                        unavailable(error);
                        return Vec::new();
                    }
                };
                popped
                    .chunks_exact(6)
                    .filter_map(|row| {
                        let holder = holder_of(&row[1], &row[2], &row[3])?;
                        Some(Expired {
                            lease: Lease {
                                address: row[0].as_str().into(),
                                holder,
                                epoch: epoch_of(&row[4])?,
                            },
                            live: row[5] == "1",
                        })
                    })
                    .collect()
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
                        keys.holding(&address),
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
        let key = keys.holding(address);
        Answer::Later(
            async move {
                let held = client.exists::<u64, _>(key).await.map_err(unavailable)?;
                Ok(held > 0)
            }
            .boxed(),
        )
    }

    fn online_all(&self, addresses: &[Arc<str>]) -> Answer<Option<Vec<bool>>> {
        use fred::prelude::KeysInterface;
        let (client, keys) = (self.client.clone(), self.keys.clone());
        let holdings: Vec<Key> = addresses.iter().map(|a| keys.holding(a)).collect();
        Answer::Later(
            async move {
                if holdings.is_empty() {
                    return Some(Vec::new());
                }
                let pipeline = client.pipeline();
                for key in holdings {
                    let _: () = pipeline.exists(key).await.ok()?;
                }
                let found: Vec<u64> = pipeline.all().await.ok()?;
                Some(found.into_iter().map(|n| n > 0).collect())
            }
            .boxed(),
        )
    }

    fn announces_transitions(&self) -> bool {
        true
    }
}
