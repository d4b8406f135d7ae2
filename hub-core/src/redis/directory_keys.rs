//! The names of the address directory's keys and channels, in shards.
//!
//! Everything about one address (its holding, its lease's deadline, its
//! topic memberships, the announcements of its transitions) lives in one
//! shard: the keys and channels that carry that shard's hash tag, so they
//! share one hash slot and every script about the address stays atomic on
//! a Redis Cluster. The address picks its shard by its own hash, so on a
//! Cluster the directory's traffic spreads over as many slots as there are
//! shards (`redis_directory_shards`), and the shards' tags are chosen to
//! fall in evenly spaced parts of the slot space, so they spread over the
//! Cluster's primaries the way its slots do.
//!
//! With one shard (the default outside a Cluster) the tag is the hub's
//! prefix plus `dir`, as before shards existed.

use fred::prelude::Key;

use crate::redis::RedisOptions;
use crate::seams::NodeId;

/// Slots of a Redis Cluster.
const SLOTS: usize = 16_384;

/// The names of one shard's keys and channels.
#[derive(Debug)]
pub(crate) struct Shard {
    /// `{prefix + "dir"}` (one shard) or `{prefix + "dir:" + n}`: every key's
    /// hash tag.
    pub(crate) tag: String,
    pub(crate) node_channel_prefix: String,
    pub(crate) presence_channel: String,
}

impl Shard {
    fn new(tag: String) -> Self {
        // Channels too carry the tag: they are sharded channels, and a
        // script may only publish on a channel of its keys' slot.
        Self {
            node_channel_prefix: format!("{tag}n:"),
            presence_channel: format!("{tag}presence"),
            tag,
        }
    }

    pub(crate) fn holding(&self, address: &str) -> Key {
        Key::from(self.holding_name(address))
    }

    pub(crate) fn holding_name(&self, address: &str) -> String {
        format!("{}a:{address}", self.tag)
    }

    pub(crate) fn holding_prefix(&self) -> String {
        format!("{}a:", self.tag)
    }

    pub(crate) fn deadlines(&self) -> Key {
        Key::from(self.deadlines_name())
    }

    pub(crate) fn deadlines_name(&self) -> String {
        format!("{}deadlines", self.tag)
    }

    pub(crate) fn epoch_name(&self) -> String {
        format!("{}epoch", self.tag)
    }

    /// How many addresses of this shard are held (or lingering).
    pub(crate) fn held_name(&self) -> String {
        format!("{}held", self.tag)
    }

    /// The addresses some node watches, by when their watch runs out
    /// unless renewed: only their transitions are announced.
    pub(crate) fn watched_name(&self) -> String {
        format!("{}watched", self.tag)
    }

    /// The channel of this shard's messages to `node`.
    pub(crate) fn node_channel(&self, node: NodeId) -> String {
        format!("{}{node}", self.node_channel_prefix)
    }

    /// The keys of `topic`'s members in this shard: members, infos, the
    /// node holding each membership.
    pub(crate) fn member_names(&self, topic: &str) -> [String; 3] {
        let tag = &self.tag;
        [
            format!("{tag}m:{topic}"),
            format!("{tag}mi:{topic}"),
            format!("{tag}mn:{topic}"),
        ]
    }

    /// The key of the topics `address` is a member of.
    pub(crate) fn topics_of_name(&self, address: &str) -> String {
        format!("{}at:{address}", self.tag)
    }
}

/// The directory's shards, and the hub-wide names.
#[derive(Debug)]
pub(crate) struct Keys {
    shards: Vec<Shard>,
    /// Every node hears `"*"` broadcasts here (the slot of the one-shard
    /// tag, whatever the count).
    pub(crate) everyone_channel: String,
    /// The shard count every node of the hub must agree on.
    pub(crate) shard_count_name: String,
    /// The hash tag of topic occupancy and of the nodes' claims
    /// (`occupancy.lua`).
    pub(crate) occupancy_tag: String,
}

impl Keys {
    /// The nodes' claims: each node with a lifecycle sink, until its claim
    /// runs out (see `occupancy.rs`).
    pub(crate) fn node_claims_name(&self) -> String {
        format!("{}nodes", self.occupancy_tag)
    }

    pub(crate) fn new(options: &RedisOptions) -> Self {
        let count = options.directory_shards();
        let prefix = &options.prefix;
        // Whatever the count: the names every node must find alike.
        let hubs = format!("{{{prefix}dir}}");
        let shards: Vec<Shard> = if count == 1 {
            vec![Shard::new(hubs.clone())]
        } else {
            spread_tags(prefix, count)
                .into_iter()
                .map(Shard::new)
                .collect()
        };
        Self {
            everyone_channel: format!("{hubs}everyone"),
            shard_count_name: format!("{hubs}shards"),
            occupancy_tag: format!("{{{prefix}occ}}"),
            shards,
        }
    }

    /// The shard `address` lives in.
    pub(crate) fn shard(&self, address: &str) -> &Shard {
        &self.shards[self.shard_index(address)]
    }

    /// The index of the shard `address` lives in: its user's (the part
    /// before a `/`), so that every connection of one user is in one shard.
    pub(crate) fn shard_index(&self, address: &str) -> usize {
        let user = crate::protocol::user_of(address).unwrap_or(address);
        match self.shards.len() {
            1 => 0,
            n => usize::from(fred::util::redis_keyslot(user.as_bytes())) % n,
        }
    }

    /// The key whose existence says `address` is online: a device's
    /// holding, or a user's count of entries (`p:<user>`: its own
    /// address's and its devices', held or lingering).
    pub(crate) fn online_name(&self, address: &str) -> String {
        let shard = self.shard(address);
        match crate::protocol::user_of(address) {
            Some(_) => shard.holding_name(address),
            None => format!("{}p:{address}", shard.tag),
        }
    }

    /// The hash of `user`'s connections (address → node), in its shard.
    pub(crate) fn connections_name(&self, user: &str) -> String {
        format!("{}u:{user}", self.shard(user).tag)
    }

    pub(crate) fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// The channels every node subscribes to for itself: its channel and
    /// the presence channel of every shard, and the `"*"` channel.
    pub(crate) fn fixed_channels(&self, node: NodeId) -> Vec<String> {
        let mut channels: Vec<String> = self
            .shards
            .iter()
            .flat_map(|s| [s.node_channel(node), s.presence_channel.clone()])
            .collect();
        channels.push(self.everyone_channel.clone());
        channels
    }
}

/// `count` tags, the n-th the first `{prefix + "dir:" + j}` whose slot falls
/// in the n-th of `count` equal parts of the slot space. Every node finds
/// the same ones.
fn spread_tags(prefix: &str, count: usize) -> Vec<String> {
    let mut tags = vec![String::new(); count];
    let mut found = 0;
    let mut j = 0u64;
    while found < count {
        let tag = format!("{{{prefix}dir:{j}}}");
        let part = usize::from(fred::util::redis_keyslot(tag.as_bytes())) * count / SLOTS;
        if tags[part].is_empty() {
            tags[part] = tag;
            found += 1;
        }
        j += 1;
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(shards: usize, url: &str) -> Keys {
        Keys::new(&RedisOptions {
            url: url.into(),
            directory_shards: shards,
            ..RedisOptions::default()
        })
    }

    #[test]
    fn one_shard_keeps_the_names_from_before_shards() {
        let keys = keys(0, "redis://127.0.0.1:6379");
        assert_eq!(keys.shards().len(), 1);
        assert_eq!(
            keys.shard("alice").holding_name("alice"),
            "{signal-hub:dir}a:alice"
        );
        assert_eq!(keys.everyone_channel, "{signal-hub:dir}everyone");
    }

    #[test]
    fn a_clusters_shards_fall_in_evenly_spaced_slots_and_addresses_spread() {
        let keys = keys(0, "redis-cluster://127.0.0.1:7000");
        let count = keys.shards().len();
        assert_eq!(count, 16, "the default on a cluster");
        for (n, shard) in keys.shards().iter().enumerate() {
            let slot = usize::from(fred::util::redis_keyslot(shard.tag.as_bytes()));
            assert_eq!(slot * count / SLOTS, n, "{}", shard.tag);
        }
        let mut used = vec![0; count];
        for i in 0..1_600 {
            used[keys.shard_index(&format!("user-{i}"))] += 1;
        }
        assert!(used.iter().all(|&n| n > 50), "{used:?}");
        assert_eq!(keys.shard_index("alice"), keys.shard_index("alice"));
    }
}
