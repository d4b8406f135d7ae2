//! One behaviour test, every engine: a test body written once takes an
//! [`Engine`] and starts its nodes with [`Engine::config`]; the
//! `on_every_engine!` macro makes one test per engine of it — memory
//! (durability in memory, one node), redb (on disk, one node), Redis (a
//! real redis-server, nothing kept on the node) and a Redis Cluster (three
//! masters: the engine's keys and channels spread over shards).
#![allow(dead_code, unreachable_pub)]

use hub_server::{Durability, ServerConfig, SpawnedServer};

use super::redis::{eventually_ready, node_config, Redis, RedisCluster};
use super::{start, test_config, TempDir};

/// Where a hub keeps what it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Redb,
    Redis,
    RedisCluster,
}

/// An engine for one test: its Redis or its data directory live as long
/// as it does.
pub struct Engine {
    pub kind: Kind,
    redis: Option<Redis>,
    cluster: Option<RedisCluster>,
    dir: TempDir,
}

impl Engine {
    pub async fn new(kind: Kind) -> Self {
        let redis = match kind {
            Kind::Redis => Some(Redis::start().await),
            _ => None,
        };
        let cluster = match kind {
            Kind::RedisCluster => Some(RedisCluster::start().await),
            _ => None,
        };
        Self {
            kind,
            redis,
            cluster,
            dir: TempDir::new("engine"),
        }
    }

    /// A node's config on this engine, durability on.
    pub fn config(&self) -> ServerConfig {
        let mut config = match (&self.redis, &self.cluster) {
            (Some(redis), _) => node_config(redis, "conformance:"),
            (None, Some(cluster)) => {
                let mut config = test_config();
                config.engine = hub_server::Engine::Redis;
                config.redis_url = cluster.url();
                config.redis_prefix = "conformance:".into();
                config.redis_command_timeout_ms = 2_000;
                config
            }
            (None, None) => test_config(),
        };
        config.durability = match self.kind {
            Kind::Redb => Durability::Disk,
            _ => Durability::Memory,
        };
        config.data_dir = self.dir.0.display().to_string();
        config
    }

    /// Starts a node with `config` and waits until it is ready.
    pub async fn start(&self, config: ServerConfig) -> SpawnedServer {
        let server = start(config);
        eventually_ready(&server).await;
        server
    }

    /// Starts a node with this engine's config.
    pub async fn node(&self) -> SpawnedServer {
        self.start(self.config()).await
    }
}

/// One test per engine for each named `async fn(Engine)` in scope.
#[macro_export]
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use super::common::engines::{Engine, Kind};

                #[tokio::test]
                async fn memory() {
                    super::$name(Engine::new(Kind::Memory).await).await;
                }

                #[tokio::test]
                async fn redb() {
                    super::$name(Engine::new(Kind::Redb).await).await;
                }

                #[tokio::test]
                async fn redis() {
                    super::$name(Engine::new(Kind::Redis).await).await;
                }

                #[tokio::test]
                async fn redis_cluster() {
                    super::$name(Engine::new(Kind::RedisCluster).await).await;
                }
            }
        )*
    };
}
