//! Webhooks: the hub's lifecycle events (`hub_core::lifecycle`: connected,
//! disconnected, user online and offline, topics occupied and vacated,
//! subscribed and unsubscribed) posted to the application's backend as
//! signed JSON, at least once, in order per user (and per topic).
//!
//! ```json
//! {"id": "0f8e...", "event": "user_offline", "at_ms": 1767225600000, "user": "alice"}
//! ```
//!
//! Each post carries `Signal-Hub-Event-Id` (the body's `id`, the same on
//! every retry: the receiver's idempotency key), `Signal-Hub-Timestamp`
//! (Unix seconds when it was sent) and `Signal-Hub-Signature: v1=<hex>`,
//! HMAC-SHA256 under `webhook_secret` over `<timestamp>.<body>`: the
//! receiver checks it and refuses an old timestamp (a replay).
//!
//! The hub's actors only queue an event (`Webhooks::tell`: a bounded
//! channel, never a wait); a thread of its own keeps the queue (`store`:
//! in memory, or on disk) and posts (`sender`), so a dead or slow backend
//! costs the clients nothing: its events wait, retried with backoff, and
//! past `webhook_max_queued` new ones are dropped and counted.

mod config;
mod metrics;
mod sender;
mod store;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hub_core::lifecycle::{Lifecycle, LifecycleSink};
use serde::Serialize;
use tokio::sync::mpsc;

pub use config::WebhookConfig;
pub use metrics::WebhookMetrics;
pub use sender::WebhookThread;

/// An event on its way to the queue: what its order is kept within, and
/// its body.
struct Queued {
    key: Arc<str>,
    body: Vec<u8>,
    /// Who is live after it: the store keeps the users online and the
    /// sessions connected, to tell them gone after a crash.
    live: store::Live,
}

/// The hub's lifecycle sink that posts webhooks (see the module docs).
pub struct Webhooks {
    config: Arc<WebhookConfig>,
    queue: mpsc::Sender<Queued>,
    metrics: Arc<WebhookMetrics>,
    /// A full queue was logged (once, until it has room again).
    told_full: AtomicBool,
    /// This node is the hub: the store keeps who is live (see `start`).
    one_node: bool,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("url", &self.config.webhook_url)
            .finish_non_exhaustive()
    }
}

/// What is posted.
#[derive(Serialize)]
struct Body<'a> {
    id: String,
    event: &'static str,
    at_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<&'a str>,
}

impl Webhooks {
    /// Starts the thread that keeps and posts the events, if `config`
    /// names a URL; events are kept in `webhooks.redb` in `on_disk`, if
    /// given. With `one_node` (the memory engine: this node is the hub)
    /// the store keeps who is live, told gone at the next start; with
    /// Redis the nodes find a dead node's leases run out instead. The sink
    /// for the hub, and the thread to stop at shutdown.
    ///
    /// # Errors
    /// A key is wrong, or the file cannot be used.
    pub fn start(
        config: &WebhookConfig,
        on_disk: Option<&std::path::Path>,
        one_node: bool,
        metrics: Arc<WebhookMetrics>,
    ) -> Result<Option<(Self, WebhookThread)>, String> {
        config.check()?;
        if config.webhook_url.is_empty() {
            return Ok(None);
        }
        let store = match on_disk {
            Some(dir) => store::Store::open(&dir.join("webhooks.redb"))?,
            None => store::Store::Memory,
        };
        let config = Arc::new(config.clone());
        let (queue, queued) = mpsc::channel(config.webhook_max_queued);
        let thread = sender::spawn(config.clone(), store, queued, metrics.clone(), one_node)?;
        let sink = Self {
            config,
            queue,
            metrics,
            told_full: AtomicBool::new(false),
            one_node,
        };
        Ok(Some((sink, thread)))
    }
}

impl LifecycleSink for Webhooks {
    fn tell(&self, event: Lifecycle) {
        let name = event.name();
        if !self.config.wants(name) {
            return;
        }
        let max = self.config.webhook_max_queued as i64;
        if self.metrics.queued.get() >= max {
            self.metrics.event("dropped");
            if !self.told_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    webhook_max_queued = max,
                    "the webhook queue is full: new events are dropped until the backend takes some"
                );
            }
            return;
        }
        self.told_full.store(false, Ordering::Relaxed);
        let key: Arc<str> = event.key().into();
        let body = body_of(&event, None);
        let live = match self.one_node {
            true => live_of(&event),
            false => store::Live::Same,
        };
        self.metrics.queued.inc();
        if self.queue.try_send(Queued { key, body, live }).is_err() {
            self.metrics.queued.dec();
            self.metrics.event("dropped");
        }
    }
}

/// What `event` says of who is live.
fn live_of(event: &Lifecycle) -> store::Live {
    use store::Live;
    match event {
        Lifecycle::UserOnline { user } => Live::Came(format!("u:{user}"), String::new()),
        Lifecycle::UserOffline { user } => Live::Went(format!("u:{user}")),
        Lifecycle::Connected { client, address } => {
            Live::Came(format!("s:{client}"), address.to_string())
        }
        Lifecycle::Disconnected { client, .. } => Live::Went(format!("s:{client}")),
        _ => Live::Same,
    }
}

/// Who was live when the node stopped (`store::Live`'s keys), told gone:
/// each session disconnected, then each user offline, `node_restart`.
fn gone_at_restart(mut live: Vec<(String, String)>) -> Vec<Queued> {
    // Sessions (`s:`) before users (`u:`): a user's disconnects first.
    live.sort_by_key(|(key, _)| !key.starts_with("s:"));
    live.into_iter()
        .filter_map(|(key, value)| {
            let event = match key.split_once(':')? {
                ("s", client) => Lifecycle::Disconnected {
                    client: client.into(),
                    address: value.into(),
                    reason: "node_restart",
                },
                ("u", user) => Lifecycle::UserOffline { user: user.into() },
                _ => return None,
            };
            let reason = matches!(event, Lifecycle::UserOffline { .. }).then_some("node_restart");
            Some(Queued {
                key: event.key().into(),
                body: body_of(&event, reason),
                live: live_of(&event),
            })
        })
        .collect()
}

/// The JSON posted for `event`; `reason`, if given, says why.
fn body_of(event: &Lifecycle, reason: Option<&'static str>) -> Vec<u8> {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut body = Body {
        id: uuid::Uuid::new_v4().simple().to_string(),
        event: event.name(),
        at_ms,
        user: None,
        address: None,
        client: None,
        topic: None,
        reason,
        by: None,
    };
    match event {
        Lifecycle::Connected { client, address } => {
            body.client = Some(client);
            body.address = Some(address);
        }
        Lifecycle::Disconnected {
            client,
            address,
            reason,
        } => {
            body.client = Some(client);
            body.address = Some(address);
            body.reason = Some(reason);
        }
        Lifecycle::Subscribed {
            client,
            address,
            topic,
            by,
        } => {
            body.client = Some(client);
            body.address = Some(address);
            body.topic = Some(topic);
            body.by = Some(by);
        }
        Lifecycle::Unsubscribed {
            client,
            address,
            topic,
            reason,
        } => {
            body.client = Some(client);
            body.address = Some(address);
            body.topic = Some(topic);
            body.reason = Some(reason);
        }
        Lifecycle::Occupied { topic } | Lifecycle::Vacated { topic } => body.topic = Some(topic),
        _ => {}
    }
    // A topic's events are keyed by the topic; every other by its user.
    if body.topic.is_none() || body.address.is_some() {
        body.user = Some(event.key());
    }
    serde_json::to_vec(&body).unwrap_or_default()
}
