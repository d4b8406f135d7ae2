//! [`Hub`]: the handle an application holds, and [`HubBuilder`]. It starts the
//! hub's [`Node`], is passed to the WebSocket transports, and lets the
//! application's own code publish, send, broadcast and register in-process
//! actors under an address. Every call routes through the same
//! [`Router`](crate::route::Router) a client's frames take.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::{AllowAll, Authenticator};
use crate::backend::{Backend, CallKind, NoBackend};
use crate::config::{Config, ConfigError};
use crate::durable::desk::Shutdown;
use crate::durable::InboxStore;
use crate::engine::Engine;
use crate::error::HubError;
use crate::lifecycle::LifecycleSink;
use crate::metrics::MetricsSnapshot;
use crate::node::Node;
use crate::protocol::CloseCode;
use crate::registry::Drain;

#[path = "hub_census.rs"]
mod census;
#[path = "hub_control.rs"]
mod control;
#[path = "hub_delivery.rs"]
mod delivery;
#[path = "hub_local.rs"]
mod local;
#[path = "hub_presence.rs"]
mod presence;
pub use crate::seams::census::{NodeInfo, TopicInfo};
pub use delivery::{Broadcast, BroadcastOptions, Publication, PublishOptions, SendOptions};
pub use presence::PresencePage;

/// Builds a [`Hub`] with a custom authenticator.
pub struct HubBuilder {
    config: Config,
    authenticator: Option<Arc<dyn Authenticator>>,
    backend: Option<Arc<dyn Backend>>,
    lifecycle: Option<Arc<dyn LifecycleSink>>,
    store: Option<Box<dyn InboxStore>>,
    engine: Engine,
}

impl std::fmt::Debug for HubBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubBuilder")
            .field("config", &self.config)
            .field("durable", &self.store.is_some())
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for dyn Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

impl HubBuilder {
    /// Uses `authenticator` for every `hub:connect`.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Asks `backend` to decide subscribes and publishes in namespaces
    /// whose policy is `proxy`, and to answer `hub:rpc` (see
    /// [`crate::backend`]).
    pub fn backend(mut self, backend: impl Backend) -> Self {
        self.backend = Some(Arc::new(backend));
        self
    }

    /// Tells `sink` what happens in the hub (see [`crate::lifecycle`]).
    pub fn lifecycle(mut self, sink: impl LifecycleSink) -> Self {
        self.lifecycle = Some(Arc::new(sink));
        self
    }

    /// Stores direct messages in `store` (durable delivery, see
    /// [`crate::durable`]): a send to a known address is stored before it
    /// is answered (`accepted` or `queued`) and kept until acknowledged.
    /// Without a store, direct messages go only to live sessions. With
    /// the Redis engine (`HubBuilder::redis`, feature `redis`) they are
    /// stored in Redis for the whole hub instead, and `store` only turns
    /// durability on.
    pub fn inbox_store(mut self, store: impl InboxStore) -> Self {
        self.store = Some(Box::new(store));
        self
    }

    /// Shares Redis with the other nodes of this hub (see [`crate::redis`]):
    /// publications reach subscribers on every node, addresses, presence and
    /// topic histories are the hub's, and with an inbox store direct
    /// messages are stored in Redis. The node starts even
    /// when Redis is away, and reports it in [`Hub::unready_reason`] until
    /// Redis answers.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, options: crate::redis::RedisOptions) -> Self {
        self.engine = Engine::Redis(Box::new(options));
        self
    }

    /// Starts the hub's actors on the current actix system.
    ///
    /// # Errors
    /// The configuration is invalid, or the inbox store cannot be read.
    ///
    /// # Panics
    /// When called outside an actix system (e.g. not inside `#[actix_web::main]`).
    pub fn start(self) -> Result<Hub, ConfigError> {
        self.config.validate()?;
        let authenticator = self.authenticator.unwrap_or_else(|| Arc::new(AllowAll));
        let backend = self.backend.unwrap_or_else(|| Arc::new(NoBackend));
        check_backend(&self.config, &*backend)?;
        Ok(Hub {
            node: Arc::new(Node::start(
                self.config,
                crate::node::Hooks {
                    authenticator,
                    backend,
                    lifecycle: self.lifecycle,
                },
                self.store,
                self.engine,
            )?),
        })
    }
}

/// Checks that every namespace whose policy is `proxy` has a backend
/// answering it.
fn check_backend(config: &Config, backend: &dyn Backend) -> Result<(), ConfigError> {
    use crate::permissions::{Policy, Right};
    for (name, options) in &config.namespaces {
        for (right, kind) in [
            (Right::Subscribe, CallKind::Subscribe),
            (Right::Publish, CallKind::Publish),
        ] {
            if options.policy(right) == Policy::Proxy && !backend.answers(kind) {
                return Err(ConfigError::NoBackend {
                    namespace: name.clone(),
                    right: right.as_str(),
                    hint: "hub-server: subscribe_proxy_url / publish_proxy_url; embedded: HubBuilder::backend",
                });
            }
        }
    }
    Ok(())
}

/// The application's handle on a running hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    pub(crate) node: Arc<Node>,
}

impl Hub {
    /// A builder for a hub with `config`.
    pub fn builder(config: Config) -> HubBuilder {
        HubBuilder {
            config,
            authenticator: None,
            backend: None,
            lifecycle: None,
            store: None,
            engine: Engine::Memory,
        }
    }

    /// Starts a hub with `config` and no authentication.
    ///
    /// # Errors
    /// The configuration is invalid.
    ///
    /// # Panics
    /// When called outside an actix system.
    pub fn start(config: Config) -> Result<Self, ConfigError> {
        Self::builder(config).start()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.node.config
    }

    /// Limits the next connections per client IP: `connection_rate_per_ip`
    /// (0: none) and `max_connections_per_ip` (0: none), as a reload of
    /// the config changes them. Open connections stay; [`Self::config`]
    /// keeps the values the hub started with.
    pub fn set_per_ip_limits(&self, connection_rate_per_ip: u32, max_connections_per_ip: usize) {
        self.node
            .per_ip
            .set_limits(connection_rate_per_ip, max_connections_per_ip);
    }

    /// The client's address of a request from `peer` with `headers`: the
    /// peer's, or, from a peer in `trusted_proxies`, the one its
    /// `client_ip_header` names. For an app's own handlers and logs.
    pub fn client_addr(
        &self,
        peer: Option<std::net::SocketAddr>,
        head: &actix_http::RequestHead,
    ) -> Option<std::net::SocketAddr> {
        self.node.trusted_proxies.client_of(peer, &head.headers)
    }

    /// The hub's counters and gauges, read now.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.node.metrics.snapshot()
    }

    /// Every metric of this hub (counters, gauges, counters by close and
    /// error code, histograms), for a prometheus-client registry: see
    /// [`MetricsCollector`](crate::metrics::MetricsCollector).
    pub fn metrics_collector(&self) -> crate::metrics::MetricsCollector {
        crate::metrics::MetricsCollector(self.node.metrics.clone())
    }

    /// Whether authentication is enforced (false with the default [`AllowAll`]).
    pub fn auth_enforced(&self) -> bool {
        self.node.authenticator.is_enforcing()
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.node.is_draining()
    }

    /// Why this node should not be sent new clients now: it is draining
    /// for shutdown, or cannot reach the other nodes (Redis away, its
    /// subscriptions being restored). `None`: ready. A node that is not
    /// ready still serves the sessions it has.
    pub fn unready_reason(&self) -> Option<String> {
        if self.is_draining() {
            return Some("draining".into());
        }
        self.node.broker.unready_reason()
    }

    /// Closes the session holding `address` with `code` (e.g.
    /// [`CloseCode::Disconnected`], which lets the client reconnect, or
    /// [`CloseCode::Kicked`], which asks it not to): a `hub:disconnect`
    /// frame behind what is queued, then the close frame. Hub-wide: with
    /// the Redis engine the node that holds the address closes it. Answers
    /// whether a session held the address.
    ///
    /// # Errors
    /// `unavailable` when the holder's node could not be asked (Redis
    /// away, no answer within `redis_command_timeout_ms`).
    pub async fn disconnect(&self, address: &str, code: CloseCode) -> Result<bool, HubError> {
        self.node.router.disconnect_anywhere(address, code).await
    }

    /// Closes every connection of `user` — its own address and each of its
    /// devices (`user/device`) — on every node, but `keep` (one of them,
    /// e.g. the device that asked to sign the others out), with `code`.
    /// Answers whether one was closed.
    ///
    /// # Errors
    /// `unavailable` when the other nodes could not be asked.
    pub async fn disconnect_user(
        &self,
        user: &str,
        keep: Option<&str>,
        code: CloseCode,
    ) -> Result<bool, HubError> {
        self.node
            .router
            .disconnect_user_anywhere(user, keep, code)
            .await
    }

    /// This node's id (random per start).
    pub fn node_id(&self) -> String {
        self.node.id.to_string()
    }

    /// Begins graceful shutdown: refuses new connections (HTTP 503
    /// `shutting_down`), tells every session `server_shutdown` (4000) with
    /// reconnect advice, `drain_batch_size` sessions every
    /// `drain_batch_interval_ms` (bigger waves if that pace would not end
    /// within 80 % of `deadline`), and waits until every session has closed or
    /// `deadline` has passed. Returns how many sessions were still open at
    /// the deadline (0 when all closed in time).
    pub async fn drain(&self, deadline: Duration) -> usize {
        let done = self.node.begin_drain();
        let config = &self.node.config;
        let interval = Duration::from_millis(config.drain_batch_interval_ms);
        let drain = Drain {
            batch: config.drain_batch_size,
            interval,
            within: deadline * 4 / 5,
        };
        let told = self.node.registry.send(drain).await.unwrap_or(0);
        tracing::info!(sessions = told, "draining sessions");
        let mut left = 0;
        if let Some(mut done) = done {
            if tokio::time::timeout(deadline, done.recv()).await.is_err() {
                left = self.node.metrics.snapshot().connections as usize;
            }
        }
        // Last: what the sessions' ends changed is committed, and the store closed.
        if let Some(inboxes) = &self.node.inboxes {
            let _ = inboxes.send(Shutdown).await;
        }
        left
    }
}
