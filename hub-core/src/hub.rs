//! [`Hub`]: the handle an application holds, and [`HubBuilder`]. It starts the
//! hub's [`Node`], is passed to the WebSocket transports, and lets the
//! application's own code publish, send, broadcast and register in-process
//! actors under an address. Every call routes through the same
//! [`Router`](crate::route::Router) a client's frames take.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;

use crate::auth::{AllowAll, Authenticator};
use crate::config::{Config, ConfigError};
use crate::directory::TopicKind;
use crate::durable::inboxes::{Append, Shutdown};
use crate::durable::once::{at_most_once, fingerprint, memo_of};
use crate::durable::store::Outcome;
use crate::durable::InboxStore;
use crate::error::HubError;
use crate::metrics::MetricsSnapshot;
use crate::node::{Engine, Node};
use crate::protocol::{BroadcastTarget, CloseCode, Correlation, DeliveryStatus};
use crate::registry::Drain;
use crate::route::{BroadcastOutcome, DirectMessage};

#[path = "hub_census.rs"]
mod census;
#[path = "hub_local.rs"]
mod local;
#[path = "hub_presence.rs"]
mod presence;
pub use crate::seams::census::{NodeInfo, TopicInfo};
pub use presence::PresencePage;

/// Builds a [`Hub`] with a custom authenticator.
pub struct HubBuilder {
    config: Config,
    authenticator: Option<Arc<dyn Authenticator>>,
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

    /// Stores direct messages in `store` (durable delivery, see
    /// [`crate::durable`]): a send to a known address is stored before it
    /// is answered (`accepted` or `queued`) and kept until acknowledged.
    /// Without a store, direct messages go only to live sessions. With
    /// [`HubBuilder::redis`] they are stored in Redis for the whole hub
    /// instead, and `store` only turns durability on.
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
        self.engine = Engine::Redis(options);
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
        Ok(Hub {
            node: Arc::new(Node::start(
                self.config,
                authenticator,
                self.store,
                self.engine,
            )?),
        })
    }
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

    /// Sends `payload` from `from` to the address `to`'s live session now,
    /// never stored (see [`Hub::deliver`] for a client's `hub:send`
    /// semantics). `Ok` means the recipient's queue accepted it.
    ///
    /// # Errors
    /// `RecipientNotFound`, `RecipientSlow`, `InvalidName` or `InvalidPayload`.
    pub fn send(&self, from: &str, to: &str, payload: &impl Serialize) -> Result<(), HubError> {
        let payload = to_raw(payload)?;
        let router = &self.node.router;
        router.check_name("address", to)?;
        router.send(from, to, &payload, Correlation::default())
    }

    /// Sends `payload` from `from` to `to` as a client's `hub:send` does,
    /// with the same outcome: with an inbox store (see
    /// [`HubBuilder::inbox_store`]) the message is stored first and the
    /// answer is [`DeliveryStatus::Accepted`] (handed to the recipient's
    /// session) or [`DeliveryStatus::Queued`] (kept until it connects);
    /// without one it is [`Hub::send`]. With the Redis engine inboxes live
    /// in Redis for the whole hub: a recipient held on another node gets
    /// it there, and the answer is that node's.
    ///
    /// # Errors
    /// `RecipientNotFound` (not connected, and not known), `RecipientSlow`,
    /// `RecipientQueueFull`, `InvalidName`, `InvalidPayload`, `Unavailable`
    /// (the recipient's node did not answer), or `Internal` when the store
    /// failed.
    pub async fn deliver(
        &self,
        from: &str,
        to: &str,
        payload: &impl Serialize,
    ) -> Result<DeliveryStatus, HubError> {
        self.deliver_once(from, to, payload, None).await
    }

    /// [`Hub::deliver`] with an idempotency key: with an inbox store, a
    /// second call with the same `from`, `msg_id`, `to` and payload within
    /// `dedupe_window_ms` gets the first answer and stores nothing; the same
    /// `msg_id` for another message is `IdempotencyConflict`.
    ///
    /// # Errors
    /// As [`Hub::deliver`], and `IdempotencyConflict`.
    pub async fn deliver_once(
        &self,
        from: &str,
        to: &str,
        payload: &impl Serialize,
        msg_id: Option<&str>,
    ) -> Result<DeliveryStatus, HubError> {
        let payload = to_raw(payload)?;
        let router = &self.node.router;
        router.check_name("address", to)?;
        match &self.node.stored {
            Some(stored) if !router.is_local(to) => stored
                .append
                .send(Append {
                    from: from.into(),
                    to: to.into(),
                    payload,
                    correlation_id: None,
                    in_reply_to: None,
                    msg_id: msg_id.map(Into::into),
                    receipt: None,
                })
                .await
                .map_err(|_| HubError::Internal("the inbox actor stopped"))?,
            _ => router
                .send_anywhere(from, to, &payload, Correlation::default(), true)
                .await
                .map(|()| DeliveryStatus::Accepted),
        }
    }

    /// Answers `request` (a message a local actor received) with `payload`:
    /// sent from the request's recipient to its sender, with `in_reply_to`
    /// set to the request's `correlation_id`.
    ///
    /// # Errors
    /// As [`Hub::send`].
    pub fn reply(&self, request: &DirectMessage, payload: &impl Serialize) -> Result<(), HubError> {
        let payload = to_raw(payload)?;
        let correlation = Correlation {
            correlation_id: None,
            in_reply_to: request.correlation_id.as_deref(),
        };
        self.node
            .router
            .send(&request.to, &request.from, &payload, correlation)
    }

    /// [`Hub::broadcast`] to the holders on every node (the Redis engine),
    /// as a client's `hub:broadcast` does: delivered on this node at once,
    /// asked of the other nodes, answered with every recipient that took
    /// it and the listed addresses no node holds. On one node it is
    /// [`Hub::broadcast`].
    ///
    /// # Errors
    /// As [`Hub::broadcast`]; nothing is delivered then.
    pub async fn broadcast_across(
        &self,
        from: &str,
        to: &BroadcastTarget,
        payload: &impl Serialize,
    ) -> Result<(usize, Vec<String>), HubError> {
        let payload = to_raw(payload)?;
        let across = self.node.router.broadcast_across(from, to, &payload)?;
        Ok(across.await)
    }

    /// Sends one payload from `from` to several addresses, or to every
    /// registered address but `from` ([`BroadcastTarget::All`]), as a
    /// client's `hub:broadcast` would. Returns how many recipients accepted
    /// it and which listed addresses are not live. With the Redis engine
    /// only this node's holders: [`Hub::broadcast_across`] reaches them all.
    ///
    /// # Errors
    /// `BroadcastTooLarge` (over `broadcast_max_recipients`), `InvalidName`
    /// or `InvalidPayload`; nothing is delivered then.
    pub fn broadcast<'a>(
        &self,
        from: &str,
        to: &'a BroadcastTarget,
        payload: &impl Serialize,
    ) -> Result<BroadcastOutcome<'a>, HubError> {
        let payload = to_raw(payload)?;
        self.node.router.broadcast(from, to, &payload)
    }

    /// Publishes `payload` to `topic` as `from`. Returns how many subscribers'
    /// queues accepted it (0 when the topic has no subscribers). In a
    /// namespace with history the publication is kept (stored, with an inbox
    /// store) before it is fanned out.
    ///
    /// # Errors
    /// `InvalidName` or `InvalidPayload`; `Internal` if the topic stopped
    /// while the publication was on its way, or the store failed.
    pub async fn publish(
        &self,
        topic: &str,
        from: &str,
        payload: &impl Serialize,
    ) -> Result<usize, HubError> {
        let published = self.publish_once(topic, from, payload, None).await?;
        Ok(published.recipients)
    }

    /// [`Hub::publish`] with an idempotency key, answering with the
    /// publication's offset too: with an inbox store, a second call with the
    /// same `from`, `msg_id`, `topic` and payload within `dedupe_window_ms`
    /// gets the first answer and publishes nothing; the same `msg_id` for
    /// another message is `IdempotencyConflict`.
    ///
    /// # Errors
    /// As [`Hub::publish`], and `IdempotencyConflict`.
    pub async fn publish_once(
        &self,
        topic: &str,
        from: &str,
        payload: &impl Serialize,
        msg_id: Option<&str>,
    ) -> Result<Publication, HubError> {
        let payload = to_raw(payload)?;
        let node = self.node.clone();
        node.router.check_name("topic", topic)?;
        let kind = node
            .permissions
            .options_of(topic)
            .map(TopicKind::of)
            .unwrap_or_default();
        let outcome = match (msg_id, node.stored.clone()) {
            (Some(msg_id), Some(inboxes)) => {
                let print = fingerprint("hub:publish", topic, &payload);
                let memo = memo_of(from, msg_id, print);
                let (topic, from): (Arc<str>, Arc<str>) = (topic.into(), from.into());
                let publish = {
                    let from = from.clone();
                    move || {
                        let published = node
                            .router
                            .publish_answered(&topic, &from, &payload, None, kind, memo);
                        async move { published.await.map(Outcome::from) }
                    }
                };
                at_most_once(inboxes, from, msg_id.into(), print, publish).await?
            }
            _ => {
                let published = node
                    .router
                    .publish_answered(topic, from, &payload, None, kind, None);
                Outcome::from(published.await?)
            }
        };
        match outcome {
            Outcome::Published { recipients, offset } => Ok(Publication { recipients, offset }),
            _ => Err(HubError::IdempotencyConflict(
                msg_id.unwrap_or_default().into(),
            )),
        }
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

/// What a publication reached, as [`Hub::publish_once`] answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    /// Subscribers on this node whose queues took it.
    pub recipients: usize,
    /// Its offset, in a namespace with history.
    pub offset: Option<u64>,
}

fn to_raw(payload: &impl Serialize) -> Result<Box<RawValue>, HubError> {
    serde_json::value::to_raw_value(payload).map_err(|e| HubError::InvalidPayload(e.to_string()))
}
