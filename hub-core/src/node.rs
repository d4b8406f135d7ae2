//! [`Node`]: what every part of one running hub shares — the configuration,
//! the registry and topic registry actors, the [`Router`] over their tables,
//! the metrics, the authenticator and the shutdown state.
//!
//! Sessions, the transports' admission and the application's
//! [`Hub`](crate::Hub) handle each hold an `Arc<Node>`. The node starts its
//! actors; it never handles a frame itself.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use dashmap::DashMap;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use crate::auth::Authenticator;
use crate::backend::Backend;
use crate::config::{Config, ConfigError};
use crate::durable::desk::InboxDesk;
use crate::durable::ports::InboxPorts;
use crate::durable::retries::RetryIds;
use crate::durable::InboxStore;
use crate::engine::{Engine, Started};
use crate::lifecycle::LifecycleSink;
use crate::seams::census::{Census, NodeInfo, Question, TopicInfo};
use crate::topic::registry::{Restore, TopicIndex, TopicKind, TopicRegistry};

use crate::client_ip::TrustedProxies;
use crate::limits::cooldown::{Cooldown, Cooldowns};
use crate::limits::per_ip::PerIp;
use crate::metrics::{Metrics, NamespaceCounters};
use crate::outbox::SessionId;
use crate::permissions::{Grants, Permissions};
use crate::protocol::{BroadcastTarget, CloseCode};
use crate::registry::Registry;
use crate::revocations::{Revocation, Revocations, Revoked};
use crate::route::{Endpoints, Router};
use crate::seams::broker::{Broker, LocalRouter};
use crate::seams::presence::SharedPresence;
use crate::seams::NodeId;
use crate::topic::CountSubscribers;

/// The open SSE streams by session key: where their POSTed frames go.
pub(crate) type EventStreams =
    Arc<dashmap::DashMap<String, tokio::sync::mpsc::Sender<bytestring::ByteString>>>;

/// One hub's shared state. See the module docs.
pub(crate) struct Node {
    /// This node's id, random per start.
    pub(crate) id: NodeId,
    pub(crate) config: Config,
    /// Address → endpoint, eviction, TTLs, the open sessions for shutdown.
    pub(crate) registry: Addr<Registry>,
    /// Topic name → topic actor; creates each topic exactly once.
    pub(crate) topic_registry: Addr<TopicRegistry>,
    /// Reads the two tables the actors above write.
    pub(crate) router: Router,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    /// The application's backend: `proxy` namespaces and `hub:rpc`.
    pub(crate) backend: Arc<dyn Backend>,
    /// Hears what happens (webhooks); `None`: nothing is built.
    pub(crate) lifecycle: Option<Arc<dyn LifecycleSink>>,
    /// The inbox desk (durability on), shut down last: its ledger writes
    /// what it gathered.
    pub(crate) inboxes: Option<Addr<InboxDesk>>,
    /// Where direct messages are stored: the node's inbox desk, over the
    /// engine's ledger. `None` without durability.
    pub(crate) stored: Option<InboxPorts>,
    /// The message ids the inbox actor remembers, for spotting retries.
    pub(crate) retry_ids: Option<Arc<RetryIds>>,
    /// Namespace options and direct-send policy, checked per request.
    pub(crate) permissions: Permissions,
    /// The grants of a session that has not connected: none (shared).
    pub(crate) no_grants: Arc<Grants>,
    /// Connection caps per client IP, checked at admission.
    pub(crate) per_ip: Arc<PerIp>,
    /// What abuse costs the abuser afterwards.
    pub(crate) cooldowns: Cooldowns,
    /// Whose word on the client's address is taken.
    pub(crate) trusted_proxies: TrustedProxies,
    /// Carries publications to the other nodes; says when it cannot.
    pub(crate) broker: Arc<dyn Broker>,
    /// Topic members as the hub sees them: pages and counts are read here.
    pub(crate) presence: Arc<dyn SharedPresence>,
    /// The open SSE streams by session key, for their POSTed frames.
    pub(crate) sse: EventStreams,
    /// Set once shutdown begins: admission refuses, `hub:connect` refuses.
    draining: Arc<AtomicBool>,
    /// This node's answer to a question asked of every node.
    pub(crate) census: Census,
    /// Revoked users and tokens, and the sessions here holding a token id.
    pub(crate) revocations: Arc<Revocations>,
    /// The `forward_headers` of sessions that have not connected yet, for
    /// their authenticator: empty unless configured.
    pub(crate) forwarded: DashMap<SessionId, Vec<(String, String)>>,
    next_session: AtomicU64,
    /// Cloned into every session; shutdown waits for the last clone to drop.
    drain_tx: Mutex<Option<mpsc::Sender<()>>>,
    drain_rx: Mutex<Option<mpsc::Receiver<()>>>,
}

/// The application's hooks a node calls.
pub(crate) struct Hooks {
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) lifecycle: Option<Arc<dyn LifecycleSink>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Starts the registry and the topic registry on the current arbiter.
    /// `config` must be valid.
    pub(crate) fn start(
        config: Config,
        hooks: Hooks,
        store: Option<Box<dyn InboxStore>>,
        engine: Engine,
    ) -> Result<Self, ConfigError> {
        let Hooks {
            authenticator,
            backend,
            lifecycle,
        } = hooks;
        let id = NodeId::random();
        let namespaces = config
            .namespaces
            .keys()
            .map(String::as_str)
            .chain([crate::permissions::DEFAULT_NAMESPACE]);
        let metrics = Arc::new(Metrics::with_namespaces(NamespaceCounters::new(
            namespaces,
            config.metrics_max_namespaces,
        )));
        let endpoints: Endpoints = Arc::default();
        let topics: TopicIndex = Arc::new(DashMap::new());
        let tables = (endpoints.clone(), topics.clone());
        let started = crate::engine::start(
            engine,
            id,
            &config,
            store,
            tables,
            &metrics,
            lifecycle.clone(),
        )?;
        let Started {
            registry,
            broker,
            presence,
            histories,
            inboxes,
            stored,
            retry_ids,
            stored_topics: (stored_topics, clean),
            occupancy,
        } = started;
        let topic_registry = TopicRegistry::new(
            topics.clone(),
            broker.clone(),
            config.max_topics,
            config.max_subscribers_per_topic,
            Duration::from_millis(config.topic_idle_grace_ms),
            metrics.clone(),
        )
        .with_history_budget(config.history_max_total_bytes)
        .with_offline_grace(config.offline_grace())
        .with_presence(presence.clone())
        .with_histories(histories)
        .with_occupancy(occupancy)
        .start();
        let permissions = Permissions::new(&config.namespaces, &config.direct);
        if !stored_topics.is_empty() {
            let topics = stored_topics
                .into_iter()
                .map(|stored| {
                    let kind = permissions
                        .options_of(&stored.topic)
                        .map(TopicKind::of)
                        .unwrap_or_default();
                    (stored, kind)
                })
                .collect();
            topic_registry.do_send(Restore { topics, clean });
        }
        let router = Router::new(
            endpoints,
            topics,
            topic_registry.clone(),
            broker.clone(),
            metrics.clone(),
            config.max_name_bytes,
            config.broadcast_max_recipients,
        )
        .with_stored(stored.clone());
        // Direct messages other nodes send here are delivered like local ones.
        let draining = Arc::new(AtomicBool::new(false));
        let revocations = Arc::new(Revocations::new(config.max_revocations));
        if broker.shared() {
            // What was revoked before this node started.
            let (kept, list) = (broker.revocations(), revocations.clone());
            actix_rt::spawn(async move {
                for revocation in kept.await {
                    let _ = list.add(&revocation);
                }
            });
        }
        let census = census(
            id,
            (router.clone(), revocations.clone()),
            metrics.clone(),
            draining.clone(),
        );
        let (local, everyone, closer) = (router.clone(), router.clone(), router.clone());
        let user_closer = router.clone();
        broker.attach(LocalRouter {
            census: census.clone(),
            send: Arc::new(move |from, to, payload, correlation| {
                local.send(from, to, payload, correlation)
            }),
            everyone: Arc::new(move |from, payload| {
                everyone
                    .broadcast(from, &BroadcastTarget::All, payload)
                    .map_or(0, |outcome| outcome.recipients)
            }),
            disconnect: Arc::new(move |address, code| closer.disconnect(address, code)),
            disconnect_user: Arc::new(move |user, keep, code| {
                user_closer.disconnect_user(user, keep, code)
            }),
        });
        let (drain_tx, drain_rx) = mpsc::channel(1);
        let per_ip = Arc::new(PerIp::new(
            config.connection_rate_per_ip,
            config.max_connections_per_ip,
        ));
        let cooldowns = Cooldowns::new(Cooldown {
            base: Duration::from_millis(config.abuse_cooldown_ms),
            max: Duration::from_millis(config.abuse_cooldown_max_ms),
        });
        let trusted_proxies = TrustedProxies::new(&config.trusted_proxies, config.client_ip_header);
        Ok(Self {
            id,
            inboxes,
            stored,
            retry_ids,
            per_ip,
            cooldowns,
            trusted_proxies,
            sse: EventStreams::default(),
            broker,
            presence,
            permissions,
            no_grants: Arc::new(Grants::none()),
            config,
            registry,
            topic_registry,
            router,
            metrics,
            authenticator,
            backend,
            lifecycle,
            draining,
            census,
            revocations,
            forwarded: DashMap::new(),
            next_session: AtomicU64::new(1),
            drain_tx: Mutex::new(Some(drain_tx)),
            drain_rx: Mutex::new(Some(drain_rx)),
        })
    }

    /// A fresh session id.
    pub(crate) fn next_session_id(&self) -> SessionId {
        SessionId(self.next_session.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// A guard for a new session, or `None` once draining has begun.
    pub(crate) fn drain_guard(&self) -> Option<mpsc::Sender<()>> {
        self.drain_tx.lock().ok()?.clone()
    }

    /// Marks the node draining and gives up its own guard. Returns the
    /// receiver that ends when the last session's guard drops (once: `None`
    /// for a second caller).
    pub(crate) fn begin_drain(&self) -> Option<mpsc::Receiver<()>> {
        self.draining.store(true, Ordering::Release);
        self.drain_tx.lock().map(|mut g| g.take()).ok();
        self.drain_rx.lock().ok().and_then(|mut g| g.take())
    }
}

/// How this node answers a [`Question`] (for itself, and for the others).
fn census(
    id: NodeId,
    (router, revocations): (Router, Arc<Revocations>),
    metrics: Arc<Metrics>,
    draining: Arc<AtomicBool>,
) -> Census {
    Arc::new(move |question| match question {
        Question::Subscription {
            user,
            topic,
            subscribe,
        } => {
            let told = router.order_user(&user, &topic.into(), subscribe);
            async move { told.to_string() }.boxed()
        }
        Question::Revoke(revocation) => {
            // Full here, it still closes what it revokes.
            let _ = revocations.add(&revocation);
            let closed = close_revoked(&router, &revocations, &revocation);
            async move { closed.to_string() }.boxed()
        }
        Question::Topics { prefix, limit } => {
            let topics = router.topics(&prefix, limit);
            async move {
                let counts = topics.iter().map(|(_, addr)| addr.send(CountSubscribers));
                let counts = futures_util::future::join_all(counts).await;
                let found: Vec<TopicInfo> = topics
                    .into_iter()
                    .zip(counts)
                    // A topic retired meanwhile had no subscribers left.
                    .map(|((name, _), count)| TopicInfo {
                        name: name.to_string(),
                        subscribers: count.unwrap_or(0),
                    })
                    .collect();
                serde_json::to_string(&found).unwrap_or_default()
            }
            .boxed()
        }
        Question::Node => {
            let m = metrics.snapshot();
            let info = NodeInfo {
                node_id: id.to_string(),
                draining: draining.load(Ordering::Acquire),
                connections: m.connections,
                registered: m.registered,
                topics: m.topics,
            };
            let json = serde_json::to_string(&info).unwrap_or_default();
            async move { json }.boxed()
        }
    })
}

/// Closes the sessions here that `revocation` revokes, with `revoked`
/// (4503); how many.
pub(crate) fn close_revoked(
    router: &Router,
    revocations: &Revocations,
    revocation: &Revocation,
) -> usize {
    match &revocation.what {
        Revoked::User(user) => router.disconnect_user(user, None, CloseCode::Revoked),
        Revoked::Jti(jti) => revocations
            .holders_of(jti)
            .iter()
            .filter(|address| router.disconnect(address, CloseCode::Revoked))
            .count(),
    }
}
