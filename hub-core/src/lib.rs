//! # hub-core
//!
//! The core of Signal Hub: a real-time message hub built on actix actors,
//! embeddable in any actix-web application.
//!
//! Every WebSocket session, every topic and the address registry is an actor;
//! eviction, unsubscribe, caps, rate limits and TTL sweeps are message
//! handlers inside them. The application holds a [`Hub`] to publish and send
//! from its own code and to register in-process actors under an address.
//!
//! ## Layout
//! Data flows one way: transport → `session` → `route` → (`topic` | an
//! address's endpoint) → `outbox` → transport.
//!
//! - `protocol` — wire frames and codes (no actix; shared with hub-client)
//! - `config` — every limit and timing, with defaults
//! - `config_error` — why a configuration cannot run, naming the key
//! - `client_ip` — the client's address behind trusted proxies
//! - `error` — [`HubError`] and its wire code
//! - `hub` — the [`Hub`] handle and [`HubBuilder`] (feature `server`)
//! - `node` — what one running hub shares: config, actors, router, metrics
//! - `engine` — which engine carries the hub (memory, Redis): the one place
//!   that knows, building the registry, broker and inboxes over it
//! - `limits` — the one clock every rate limiter of the process reads, the
//!   per-IP connection rate and count caps, and the abuse cooldown
//! - `session` — the session actor: one per socket, handles the client's frames
//! - `route` — the router: direct sends, broadcasts, publishes
//! - `message_frame` — `hub:message` frames, encoded once per message
//! - `registry` — the registry actor: address → endpoint, eviction, TTL alarm
//! - `topic` — the topic actor: subscribers, fan-out, history and recovery;
//!   the topic registry actor (`topic::registry`), which creates each topic
//!   exactly once
//! - `presence` — a topic's members and an address's watchers (state the
//!   topic and the registry own)
//! - `outbox` — a session's bounded outbound queue, and the body that drains it
//! - `sync` — the atomics of the lock-free parts (histogram shards, the
//!   outbound queue's budget, the read switch): std's here, loom's in
//!   `loom/`, which model-checks those same files
//! - `seams` — where more nodes plug in: address directory, broker, shared
//!   presence and history (traits, with the in-memory implementations)
//! - `redis` — the Redis engine behind those seams (feature `redis`); it
//!   reports back through the `EngineEvents` seam, never to an actor
//! - `events` — that seam's one implementation: engine reports turned into
//!   messages for the registry and the topics
//! - `transport` — every way a client reaches a session, under one contract:
//!   admission (draining, handshake, origin, per-IP caps, `max_connections`),
//!   the hub's own WebSocket (socket reader and writer behind actix-http's
//!   upgrade hook), the actix-web WebSocket handler, and Server-Sent Events
//! - `durable` — stored direct messages: the inbox desk (the one inbox actor)
//!   over an engine's inbox ledger; one node's ledger over the inbox store
//!   (memory, redb) on its own thread, with topic history in its commits
//! - `auth` — the authentication hook
//! - `backend` — the application's backend hook: subscribes and publishes
//!   in `proxy` namespaces, and `hub:rpc`
//! - `lifecycle` — what the application may hear of (connections, users
//!   online and offline, topics occupied and vacated, subscriptions)
//! - `revocations` — revoked users and tokens, until a time
//! - `permissions` — namespaces and grants: who may subscribe, publish, send
//! - `metrics` — counters and gauges

mod client_ip;
pub mod config;
mod config_error;
pub mod error;
pub mod permissions;
pub mod protocol;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod backend;
#[cfg(feature = "bench-support")]
#[doc(hidden)]
pub mod bench_support;
#[cfg(feature = "server")]
pub mod durable;
#[cfg(feature = "server")]
mod engine;
#[cfg(feature = "redis")]
mod events;
#[cfg(all(feature = "server", any(test, feature = "bench-support")))]
mod fixtures;
#[cfg(feature = "server")]
mod hub;
#[cfg(feature = "server")]
pub mod lifecycle;
#[cfg(feature = "server")]
mod limits;
#[cfg(feature = "server")]
mod message_frame;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
mod node;
#[cfg(feature = "server")]
mod outbox;
#[cfg(feature = "server")]
mod presence;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "server")]
mod registry;
#[cfg(feature = "server")]
mod revocations;
#[cfg(feature = "server")]
mod route;
#[cfg(feature = "server")]
mod seams;
#[cfg(feature = "server")]
mod session;
#[cfg(feature = "server")]
mod sync;
#[cfg(feature = "server")]
mod topic;
#[cfg(feature = "server")]
pub mod transport;

pub use config::{ClientIpHeader, Config, ConfigError, FsyncPolicy};
pub use error::HubError;

#[cfg(feature = "server")]
pub use hub::{
    Broadcast, BroadcastOptions, Hub, HubBuilder, NodeInfo, PresencePage, Publication,
    PublishOptions, SendOptions, TopicInfo,
};
#[cfg(feature = "server")]
pub use metrics::MetricsSnapshot;
#[cfg(feature = "server")]
pub use revocations::{Revocation, Revoked};
#[cfg(feature = "server")]
pub use route::DirectMessage;
#[cfg(feature = "server")]
pub use transport::trace_id;
#[cfg(feature = "server")]
pub use transport::ws_endpoint;
#[cfg(feature = "server")]
pub use transport::{sse_command_endpoint, sse_endpoint};

/// The README's examples, compiled as doctests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
