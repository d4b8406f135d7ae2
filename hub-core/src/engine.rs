//! [`Engine`]: which engine carries the hub, and the one place that knows.
//!
//! [`start`] builds what differs between engines — the address directory
//! (and the registry over it), the broker, topic presence and history
//! stores, and where stored direct messages and `msg_id`s live — and hands
//! the node seams. Nothing after it asks which engine runs: the memory engine's
//! broker answers every question about other nodes at once, and the Redis
//! engine's reaches them.
//!
//! With the memory engine and durability on, the node's inbox actor keeps
//! stored messages, histories and `msg_id`s in the given store (memory or
//! redb). With the Redis engine they live in Redis for the whole hub, and
//! the store given only says "durability on".

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::config::{Config, ConfigError, FsyncPolicy};
use crate::durable::desk::{InboxDesk, InboxLimits};
#[cfg(feature = "redis")]
use crate::durable::desk::{TouchHeld, Woken};
use crate::durable::ledger::{InboxLedger, OneNode};
use crate::durable::node_ledger::NodeLedger;
use crate::durable::ports::InboxPorts;
use crate::durable::retries::RetryIds;
use crate::durable::store::StoredTopic;
use crate::durable::{InboxStore, Writer};
#[cfg(feature = "redis")]
use crate::events::ActorEvents;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::route::Endpoints;
use crate::seams::addresses::{AddressDirectory, MemoryAddressDirectory};
use crate::seams::broker::{Broker, MemoryBroker};
use crate::seams::history::{HistoryStore, NodeHistory};
use crate::seams::occupancy::{NodeOccupancy, Occupancy};
use crate::seams::presence::SharedPresence;
use crate::seams::NodeId;
use crate::topic::presence::MemoryPresence;
use crate::topic::registry::TopicIndex;

/// What carries messages between the nodes of a hub.
#[derive(Debug, Clone, Default)]
pub(crate) enum Engine {
    /// One node: nothing to carry.
    #[default]
    Memory,
    /// Nodes sharing Redis.
    #[cfg(feature = "redis")]
    Redis(Box<crate::redis::RedisOptions>),
}

/// What [`start`] built for the node.
pub(crate) struct Started {
    pub(crate) registry: Addr<Registry>,
    pub(crate) broker: Arc<dyn Broker>,
    /// Topic members as the hub sees them.
    pub(crate) presence: Arc<dyn SharedPresence>,
    /// Where topic histories are numbered, kept and read.
    pub(crate) histories: Arc<dyn HistoryStore>,
    /// The node's inbox desk (durability on), told to shut down last: its
    /// ledger writes what it gathered (Redis's has nothing left to write).
    pub(crate) inboxes: Option<Addr<InboxDesk>>,
    /// Where direct messages are stored, for either engine; `None`
    /// without durability.
    pub(crate) stored: Option<InboxPorts>,
    /// The `msg_id`s the inbox actor remembers, for sessions to spare a
    /// retry the rate limit; `None` without durability.
    pub(crate) retry_ids: Option<Arc<RetryIds>>,
    /// The topic histories the store kept, and whether it was closed
    /// cleanly: for the topic registry to restore.
    pub(crate) stored_topics: (Vec<StoredTopic>, bool),
    /// Whether topics have subscribers anywhere in the hub; `None` when
    /// no lifecycle sink listens.
    pub(crate) occupancy: Option<Arc<dyn Occupancy>>,
}

/// Starts `engine` for node `id`: the registry over its address
/// directory, its broker, its inboxes. `store` is the durable store
/// (durability on), `endpoints` and `topics` the tables the actors share.
///
/// # Errors
/// The store cannot be loaded or written, or Redis options are invalid.
pub(crate) fn start(
    engine: Engine,
    id: NodeId,
    config: &Config,
    store: Option<Box<dyn InboxStore>>,
    tables: (Endpoints, TopicIndex),
    metrics: &Arc<Metrics>,
    lifecycle: Option<Arc<dyn crate::lifecycle::LifecycleSink>>,
) -> Result<Started, ConfigError> {
    let limits = limits_of(config);
    // Both engines' inbox actors fill it: sessions read it to spare a
    // retry the rate limit.
    let retry_ids = store.is_some().then(|| Arc::new(RetryIds::default()));
    let registry = |addresses: Box<dyn AddressDirectory>| {
        Registry::new(
            id,
            addresses,
            tables.0.clone(),
            config.registration_ttl(),
            Duration::from_millis(config.ttl_sweep_interval_ms),
            metrics.clone(),
        )
        .with_grace(config.offline_grace())
        .with_lifecycle(lifecycle.clone())
    };
    match engine {
        Engine::Memory => {
            let mut stored_topics = (Vec::new(), true);
            let ledger = match store {
                None => None,
                Some(mut store) => {
                    let mut known = store
                        .load()
                        .map_err(|e| ConfigError::Store(e.to_string()))?;
                    stored_topics = (std::mem::take(&mut known.topics), known.clean);
                    let writer =
                        Writer::start(store).map_err(|e| ConfigError::Store(e.to_string()))?;
                    let ids = retry_ids.clone().unwrap_or_default();
                    Some(Arc::new(NodeLedger::new(
                        writer,
                        known,
                        limits,
                        metrics.clone(),
                        ids,
                    )))
                }
            };
            // The node ledger keeps the retry ids itself (its memos).
            let inboxes = ledger.clone().map(|ledger| {
                let ids = retry_ids.clone().unwrap_or_default();
                let ledger: Arc<dyn InboxLedger> = ledger;
                InboxDesk::new(
                    ledger,
                    Arc::new(OneNode),
                    limits,
                    metrics.clone(),
                    ids,
                    None,
                )
                .start()
            });
            let addresses = MemoryAddressDirectory::new(config.max_registered)
                .with_user_limit(config.user_connection_limit);
            Ok(Started {
                registry: registry(Box::new(addresses)).start(),
                broker: Arc::new(MemoryBroker),
                presence: Arc::new(MemoryPresence::new(tables.1.clone())),
                histories: Arc::new(NodeHistory::new(ledger)),
                stored: inboxes.as_ref().map(InboxPorts::of),
                inboxes,
                retry_ids,
                stored_topics,
                occupancy: lifecycle
                    .clone()
                    .map(|sink| Arc::new(NodeOccupancy(sink)) as Arc<dyn Occupancy>),
            })
        }
        #[cfg(feature = "redis")]
        Engine::Redis(options) => {
            let (options_retry_ids, claims_in_flight) =
                (options.retry_ids, options.claims_in_flight);
            let redis =
                crate::redis::RedisEngine::connect(*options, id).map_err(ConfigError::Redis)?;
            let sweep = Duration::from_millis(config.ttl_sweep_interval_ms);
            // Shorter than a lease (renewed at most a quarter of it late):
            // a dead node's claim runs out before its sessions' leases.
            let claim = (config.registration_ttl() / 2).max(sweep * 3);
            let occupancy = lifecycle
                .clone()
                .map(|sink| redis.occupancy(sink, claim, sweep));
            let registry = registry(Box::new(
                redis.address_directory(config.max_registered, config.user_connection_limit),
            ))
            .with_claims_in_flight(claims_in_flight)
            .start();
            let events = ActorEvents::new(registry.clone(), tables.1.clone());
            let broker = crate::redis::RedisBroker::start(redis, Arc::new(events), metrics.clone());
            let desk = retry_ids.as_ref().map(|ids| {
                let (ledger, routes) = broker.inbox_ledger();
                let desk = InboxDesk::new(
                    ledger,
                    routes,
                    limits,
                    metrics.clone(),
                    ids.clone(),
                    Some(options_retry_ids),
                )
                .start();
                let (woken, touch) = (desk.clone(), desk.clone());
                broker.on_inbox_events(
                    move |wake| woken.do_send(Woken(wake)),
                    move || touch.do_send(TouchHeld),
                );
                desk
            });
            let stored = desk.as_ref().map(InboxPorts::of);
            Ok(Started {
                registry,
                presence: broker.presence(),
                histories: broker.histories(),
                broker: Arc::new(broker),
                inboxes: desk,
                stored,
                retry_ids,
                // A history kept for the whole hub is not this node's to restore.
                stored_topics: (Vec::new(), true),
                occupancy,
            })
        }
    }
}

/// The inbox limits, from the config.
fn limits_of(config: &Config) -> InboxLimits {
    InboxLimits {
        max_messages: config.inbox_max_messages,
        max_bytes: config.inbox_max_bytes,
        ttl: Duration::from_millis(config.message_ttl_ms),
        retention: Duration::from_millis(config.offline_retention_ms),
        window: config.inbox_window.min(config.outbound_queue_frames as u64),
        sync_every_commit: config.fsync == FsyncPolicy::Batch,
        sync_interval: Duration::from_millis(config.fsync_interval_ms),
        dedupe_window: Duration::from_millis(config.dedupe_window_ms),
        dedupe_max_per_sender: config.dedupe_max_per_sender,
    }
}
