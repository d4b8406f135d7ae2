//! The Redis engine: many nodes of one hub sharing a Redis server (or a
//! Redis Cluster, or the primary a Sentinel names, over TLS or not),
//! through [fred]. The memory engine stays the default; a
//! hub uses this one when built with [`HubBuilder::redis`](crate::HubBuilder::redis).
//!
//! - Addresses are held across nodes (`directory`): one holder per address
//!   in the hub, the last claim evicting the older session on whichever
//!   node, online/offline announced once to every node.
//! - Topic publications cross Redis (`broker`): one sharded pub/sub channel
//!   per topic (`SSUBSCRIBE`/`SPUBLISH`, Redis 7 or newer), subscribed by a
//!   node only while it has subscribers for the topic (the `interest`
//!   task), carrying the encoded frame once per node; the receiving node
//!   fans the same bytes out to its local subscribers, or records them in
//!   its own history first (`inbound`).
//! - Direct sends and broadcasts reach holders on other nodes, with their
//!   outcome (`direct`).
//! - Topic members are kept for the whole hub (`presence`), and so is each
//!   topic's history (`history`): numbered, kept and carried to every node
//!   in one step, the same offsets everywhere.
//! - Stored direct messages live in Redis, one inbox per address for the
//!   whole hub (`ledger`, the `InboxLedger` seam), handed out by the inbox
//!   desk of the node holding the address; the `msg_id` dedupe window spans
//!   the hub.
//!
//! A node that loses Redis keeps serving its local sessions and reports not
//! ready ([`Hub::unready_reason`](crate::Hub::unready_reason)); when Redis
//! returns, fred reconnects and the node subscribes again to every topic it
//! has subscribers for, and tells its watchers what changed meanwhile.
//! Publications made while Redis was away reach other nodes late or not at
//! all (Redis pub/sub keeps nothing).

mod broker;
mod direct;
mod directory;
mod directory_lost;
mod history;
mod inbound;
mod interest;
mod ledger;
mod link_log;
mod occupancy;
mod presence;
mod revocations;
mod scripted;
mod sentinel_watch;
mod tls;

use std::sync::Arc;
use std::time::Duration;

pub(crate) use broker::RedisBroker;
use directory::Keys;
pub(crate) use directory::RedisAddressDirectory;
use fred::prelude::ClientLike;
pub use tls::RedisTls;

use crate::seams::NodeId;
use fred::prelude::{
    Builder, Client, Config, ConnectionConfig, PerformanceConfig, ReconnectPolicy,
};
use fred::types::config::{ReconnectError, TlsConfig};

/// How a node reaches Redis. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]`; `redis-cluster://host:port?node=host:port`
    /// for a Redis Cluster; `redis-sentinel://host:port?sentinelServiceName=NAME[&node=host:port]`
    /// for the primary Sentinel names (the sentinels at host:port and each `node`). Each with
    /// `rediss` for TLS (see `tls`). Default `redis://127.0.0.1:6379`.
    pub url: String,
    /// The certificates of a `rediss` URL's connections. Default: the
    /// system's roots, no client certificate.
    pub tls: RedisTls,
    /// Put before every key and channel name, so several hubs can share one
    /// Redis. Default `signal-hub:`.
    pub prefix: String,
    /// Bytes of publications waiting to be written to Redis; a publication
    /// that would go above it is not carried to other nodes (counted in
    /// `broker_dropped_total`). Direct messages to other nodes wait in a
    /// queue of their own with the same bound (refused `unavailable` past
    /// it). Default 67108864 (64 MiB).
    pub publish_queue_bytes: usize,
    /// How long one Redis command may take before it counts as failed.
    /// Default 5000 (5 s).
    pub command_timeout: Duration,
    /// Sends and `"*"` broadcasts waiting for another node's answer, at
    /// most; past it one is refused `unavailable`. Default 65536.
    pub max_pending_sends: usize,
    /// Topic member changes waiting to be written to Redis, at most (a
    /// change Redis did not take is written again); past it one is dropped
    /// with a warning, and the topics hand over their live members again
    /// once Redis takes writes. Default 65536.
    pub presence_queue: usize,
    /// `msg_id`s this node remembers having stored or claimed, for the
    /// dedupe window, so that a retry through this node is spared the rate
    /// limit; past it the oldest is forgotten (its retry is charged).
    /// Default 65536.
    pub retry_ids: usize,
    /// Address claims and releases this node awaits from Redis at once;
    /// past it the registry waits for the oldest answer before taking
    /// another message (connects slow down). Default 1024.
    pub claims_in_flight: u64,
    /// Joins and leaves made on this node that Redis has not announced
    /// back yet, remembered per topic so that a listener that began after
    /// one does not hear of it; past it the oldest is forgotten. Default
    /// 4096.
    pub presence_told_later: u64,
    /// Messages from Redis waiting for the node's inbound task, per
    /// connection; past it the oldest are skipped (`broker_dropped_total`).
    /// Default 16384.
    pub inbound_capacity: usize,
    /// Commands waiting for a connection to Redis, at most; past it a
    /// command fails at once instead of piling up while Redis is away.
    /// Default 65536.
    pub command_buffer: usize,
    /// Shards of the address directory: each address's holding, lease and
    /// topic memberships live in the shard its hash picks, under that
    /// shard's hash tag, so a Redis Cluster spreads them over its
    /// primaries. Every node of a hub must use the same count (a node that
    /// does not reports not ready and refuses connects). 0: 16 on a Cluster
    /// URL, 1 otherwise (one Redis gains nothing from more). At most 1024.
    /// Default 0.
    pub directory_shards: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            tls: RedisTls::default(),
            prefix: "signal-hub:".into(),
            publish_queue_bytes: 64 * 1024 * 1024,
            command_timeout: Duration::from_millis(5_000),
            max_pending_sends: 65_536,
            presence_queue: 65_536,
            retry_ids: 65_536,
            claims_in_flight: 1_024,
            presence_told_later: 4_096,
            inbound_capacity: 16_384,
            command_buffer: 65_536,
            directory_shards: 0,
        }
    }
}

/// Most shards of the address directory (`directory_shards`).
pub const MAX_DIRECTORY_SHARDS: usize = 1_024;

/// Shards of the address directory on a Cluster URL, when not set.
const CLUSTER_DIRECTORY_SHARDS: usize = 16;

impl RedisOptions {
    /// The address directory's shard count these options give.
    pub fn directory_shards(&self) -> usize {
        match self.directory_shards {
            0 if self.url.contains("-cluster://") => CLUSTER_DIRECTORY_SHARDS,
            0 => 1,
            n => n.min(MAX_DIRECTORY_SHARDS),
        }
    }
}

/// A node's two connections to Redis, before the node's tasks start: the
/// address directory is made from it, then the broker.
pub(crate) struct RedisEngine {
    options: RedisOptions,
    node: NodeId,
    /// Commands: publications, the directory's scripts.
    publisher: Client,
    /// Subscriptions only.
    subscriber: Client,
    keys: Arc<Keys>,
    /// Whether this node's directory shard count is the hub's.
    agreement: Arc<directory::Agreement>,
}

impl RedisEngine {
    /// Makes the clients and starts connecting them (in the background: the
    /// node starts whether or not Redis answers).
    pub(crate) fn connect(options: RedisOptions, node: NodeId) -> Result<Self, String> {
        options.check()?;
        let publisher = options.client()?;
        let subscriber = options.client()?;
        // The connection tasks run until the clients quit.
        drop(publisher.connect());
        drop(subscriber.connect());
        link_log::watch(&publisher, options.url.clone());
        let clients = vec![publisher.clone(), subscriber.clone()];
        sentinel_watch::follow(&options.config()?, clients)?;
        let keys = Arc::new(Keys::new(&options));
        let agreement = Arc::new(directory::Agreement::new(keys.shards().len()));
        Ok(Self {
            options,
            node,
            publisher,
            subscriber,
            keys,
            agreement,
        })
    }

    /// The address directory shared by every node of the hub, holding at
    /// most `max_held` addresses at once.
    pub(crate) fn address_directory(
        &self,
        max_held: usize,
        user_limit: usize,
    ) -> RedisAddressDirectory {
        RedisAddressDirectory::new(
            self.publisher.clone(),
            self.node,
            (self.keys.clone(), self.agreement.clone()),
            (max_held, user_limit),
        )
    }
}

/// The URL schemes a node reaches Redis by.
const SCHEMES: [&str; 6] = [
    "redis://",
    "rediss://",
    "redis-cluster://",
    "rediss-cluster://",
    "redis-sentinel://",
    "rediss-sentinel://",
];

impl RedisOptions {
    /// Whether a node could start with these options (the URL, the TLS
    /// files), without connecting.
    ///
    /// # Errors
    /// Why not, naming the setting.
    pub fn check(&self) -> Result<(), String> {
        if self.directory_shards > MAX_DIRECTORY_SHARDS {
            return Err(format!(
                "redis_directory_shards: {} is more than {MAX_DIRECTORY_SHARDS}",
                self.directory_shards
            ));
        }
        self.client().map(drop)
    }

    /// The client config of these options: the URL's, with the TLS files.
    fn config(&self) -> Result<Config, String> {
        let tls = self.url.starts_with("rediss");
        if !SCHEMES.iter().any(|scheme| self.url.starts_with(scheme)) {
            return Err(format!(
                "redis url: `{}` must start with redis://, redis-cluster:// or \
                 redis-sentinel:// (rediss for TLS)",
                self.url
            ));
        }
        if !tls && self.tls.is_set() {
            return Err(format!(
                "redis_tls_* is set but redis url `{}` does not use TLS: start it with rediss",
                self.url
            ));
        }
        let mut config = Config::from_url(&self.url).map_err(|e| format!("redis url: {e}"))?;
        if tls {
            // The host in the URL (or the one Sentinel names) is the name
            // the server's certificate must show.
            config.tls = Some(TlsConfig::from(self.tls.client_config()?));
        }
        // Start even when Redis is down: the node serves its own sessions
        // and reports not ready until Redis answers.
        config.fail_fast = false;
        Ok(config)
    }

    /// A client for these options, not yet connected. It reconnects on its
    /// own, forever, with backoff from 100 ms to 2 s.
    fn client(&self) -> Result<Client, String> {
        let config = self.config()?;
        let performance = PerformanceConfig {
            default_command_timeout: self.command_timeout,
            broadcast_channel_capacity: self.inbound_capacity.max(1),
            ..Default::default()
        };
        let connection = ConnectionConfig {
            connection_timeout: self.command_timeout,
            internal_command_timeout: self.command_timeout,
            max_command_buffer_len: self.command_buffer.max(1),
            // A command whose connection broke is not sent again: a
            // publication Redis may have taken must not be carried twice.
            max_command_attempts: 1,
            // A primary turned replica (a failover) refuses writes: connect
            // again, to the primary Sentinel names now.
            reconnect_errors: vec![
                ReconnectError::ReadOnly,
                ReconnectError::MasterDown,
                ReconnectError::Loading,
            ],
            ..Default::default()
        };
        Builder::from_config(config)
            .set_performance_config(performance)
            .set_connection_config(connection)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build()
            .map_err(|e| format!("redis client: {e}"))
    }

    /// The channel of `topic`'s publications.
    fn topic_channel(&self, topic: &str) -> String {
        let mut channel = String::with_capacity(self.prefix.len() + 2 + topic.len());
        channel.push_str(&self.prefix);
        channel.push_str("t:");
        channel.push_str(topic);
        channel
    }

    /// The topic a channel from [`Self::topic_channel`] names.
    fn topic_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix("t:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_channel_names_its_topic_back() {
        let options = RedisOptions::default();
        let channel = options.topic_channel("chat:lobby");
        assert_eq!(channel, "signal-hub:t:chat:lobby");
        assert_eq!(options.topic_of(&channel), Some("chat:lobby"));
        assert_eq!(options.topic_of("other:t:chat"), None);
    }

    #[test]
    fn a_bad_url_is_refused_with_a_reason() {
        let options = RedisOptions {
            url: "http://nowhere".into(),
            ..Default::default()
        };
        let error = options.client().expect_err("not a redis url");
        assert!(error.starts_with("redis url:"), "{error}");
    }
}
