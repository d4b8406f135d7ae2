//! [`RedisBroker`]: the [`Broker`] of a node sharing Redis with others.
//!
//! A publication goes out once per node on the topic's sharded channel,
//! prefixed with the node's id so the node skips its own echo; the writer
//! task batches what arrives together into one pipeline, in order. Interest
//! in topics is reconciled by [`Interest`]; what other nodes publish is
//! reported to the node's [`EngineEvents`] by [`inbound`](super::inbound).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use fred::prelude::{Client, ClientLike, PubsubInterface, Value};
use futures_util::FutureExt;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use futures_util::future::BoxFuture;

use super::direct::Direct;
use super::interest::Interest;
use super::presence::RedisPresence;
use super::{inbound, RedisOptions};
use crate::durable::ledger::{InboxLedger, InboxRoutes, Wake};
use crate::error::HubError;
use crate::metrics::Metrics;
use crate::protocol::{CloseCode, Correlation, DeliveryStatus};
use crate::seams::broker::{Broker, LocalRouter};
use crate::seams::events::EngineEvents;
use crate::seams::presence::SharedPresence;
use crate::seams::{Answer, NodeId};

/// Length of the origin node's id at the head of every message: 16 hex
/// digits, so the whole message stays UTF-8 like the frame after it.
pub(super) const ORIGIN_LEN: usize = 16;

/// Publications written to Redis in one pipeline, at most.
const MAX_BATCH: usize = 256;

/// A publication on its way to Redis.
struct Outgoing {
    channel: String,
    message: Bytes,
}

/// The Redis broker. See the module docs.
pub(crate) struct RedisBroker {
    options: RedisOptions,
    /// This node's id as it heads each message.
    origin: [u8; ORIGIN_LEN],
    publisher: Client,
    subscriber: Client,
    /// To the writer task; bounded in bytes by `queued` against
    /// `options.publish_queue_bytes`.
    outgoing: mpsc::UnboundedSender<Outgoing>,
    queued: Arc<AtomicUsize>,
    interest: Arc<Interest>,
    /// Direct messages to addresses held on other nodes.
    direct: Arc<Direct>,
    /// Topic members for every node.
    presence: Arc<RedisPresence>,
    /// Topic history for every node.
    history: Arc<super::history::RedisHistory>,
    /// Told after every restore too: the inbox actor, once started.
    on_restore: Arc<std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>>,
    metrics: Arc<Metrics>,
    /// Whether this node's directory shard count is the hub's.
    agreement: Arc<super::directory::Agreement>,
}

impl std::fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBroker")
            .field("url", &self.options.url)
            .field("prefix", &self.options.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// Starts the writer, interest and inbound tasks on the current runtime
    /// over the engine's clients. What other nodes publish, claim and
    /// announce is reported to `events`.
    pub(crate) fn start(
        engine: super::RedisEngine,
        events: Arc<dyn EngineEvents>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let super::RedisEngine {
            options,
            node,
            publisher,
            subscriber,
            keys,
            agreement,
        } = engine;
        let origin = origin_of(node);
        let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        actix_rt::spawn(write_publications(
            publisher.clone(),
            outgoing_rx,
            queued.clone(),
            metrics.clone(),
        ));
        let direct = Direct::start(
            publisher.clone(),
            node,
            keys.clone(),
            options.publish_queue_bytes,
            options.max_pending_sends,
            options.command_timeout,
        );
        let presence = Arc::new(RedisPresence::start(
            publisher.clone(),
            node,
            keys.clone(),
            (options.presence_queue, options.presence_told_later),
            events.clone(),
        ));
        let history = Arc::new(super::history::RedisHistory::start(
            publisher.clone(),
            options.clone(),
        ));
        let fixed = keys.fixed_channels(node);
        let told = events.clone();
        let on_restore: Arc<std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>> = Arc::default();
        let hook = on_restore.clone();
        let restored = Box::new(move || {
            if let Some(hook) = hook.get() {
                hook();
            }
            told.restored();
        });
        let interest = Interest::new(subscriber.clone(), options.clone(), fixed, restored);
        actix_rt::spawn(interest.clone().run());
        let routes = inbound::Routes {
            options: options.clone(),
            origin,
            node_channels: keys.shards().iter().map(|s| s.node_channel(node)).collect(),
            presence_channels: keys
                .shards()
                .iter()
                .map(|s| s.presence_channel.clone())
                .collect(),
            everyone_channel: keys.everyone_channel.clone(),
            events,
            direct: direct.clone(),
        };
        actix_rt::spawn(inbound::run(subscriber.clone(), routes, metrics.clone()));
        Self {
            options,
            origin,
            publisher,
            subscriber,
            outgoing,
            queued,
            interest,
            direct,
            presence,
            history,
            on_restore,
            metrics,
            agreement,
        }
    }
}

impl RedisBroker {
    /// Topic members for every node, in Redis.
    pub(crate) fn presence(&self) -> Arc<dyn SharedPresence> {
        self.presence.clone()
    }

    /// Topic histories for the whole hub, in Redis.
    pub(crate) fn histories(&self) -> Arc<dyn crate::seams::history::HistoryStore> {
        self.history.clone()
    }

    /// The hub's inboxes in Redis, and how their messages reach recipients
    /// held on other nodes: what the inbox desk works over.
    pub(crate) fn inbox_ledger(&self) -> (Arc<dyn InboxLedger>, Arc<dyn InboxRoutes>) {
        // A cluster keeps the directory and each inbox in different slots:
        // no script can read the one and write the other.
        let tells = (!self.publisher.is_clustered()).then(|| self.direct.clone());
        let ledger = Arc::new(super::ledger::RedisLedger::start(
            self.publisher.clone(),
            &self.options.prefix,
            self.options.max_pending_sends,
            tells,
        ));
        (
            Arc::new(ledger),
            Arc::new(DirectRoutes(self.direct.clone())),
        )
    }

    /// Where the stored messages other nodes send here go (`woken`), and
    /// what to do when Redis comes back, maybe empty (`restored`: make the
    /// inboxes held here again).
    pub(crate) fn on_inbox_events(
        &self,
        woken: impl Fn(Wake) + Send + Sync + 'static,
        restored: impl Fn() + Send + Sync + 'static,
    ) {
        self.direct.attach_stored(Arc::new(woken));
        let _ = self.on_restore.set(Box::new(restored));
    }
}

/// How the inbox desk reaches recipients held on other nodes: through
/// their node's channel.
struct DirectRoutes(Arc<Direct>);

impl InboxRoutes for DirectRoutes {
    fn wake(
        &self,
        to: &str,
        seq: u64,
        frame: &str,
    ) -> BoxFuture<'static, Result<DeliveryStatus, HubError>> {
        Box::pin(Direct::wake(&self.0, to, seq, frame))
    }

    fn send_unstored(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) -> BoxFuture<'static, Result<(), HubError>> {
        Box::pin(Direct::send(&self.0, from, to, payload, correlation, true))
    }
}

/// `node` as it heads each message: its 16 hex digits.
fn origin_of(node: NodeId) -> [u8; ORIGIN_LEN] {
    let mut origin = [0u8; ORIGIN_LEN];
    origin.copy_from_slice(format!("{node}").as_bytes());
    origin
}

impl Broker for RedisBroker {
    fn subscribe(&self, topics: &[Arc<str>]) -> Answer<Result<(), HubError>> {
        let generation = self.interest.want(topics, true);
        Answer::Later(self.interest.synced(generation).map(Ok).boxed())
    }

    fn unsubscribe(&self, topics: &[Arc<str>]) -> Answer<()> {
        self.interest.want(topics, false);
        Answer::now(())
    }

    fn publish(&self, topic: &str, frame: &ByteString) -> Answer<Result<(), HubError>> {
        let size = ORIGIN_LEN + frame.len();
        let queued = self.queued.fetch_add(size, Ordering::AcqRel);
        if queued + size > self.options.publish_queue_bytes {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            Metrics::inc(&self.metrics.broker_dropped_total);
            return Answer::now(Ok(()));
        }
        let mut message = BytesMut::with_capacity(size);
        message.put_slice(&self.origin);
        message.put_slice(frame.as_bytes());
        let outgoing = Outgoing {
            channel: self.options.topic_channel(topic),
            message: message.freeze(),
        };
        if self.outgoing.send(outgoing).is_err() {
            // The writer task is gone: the runtime is shutting down.
            self.queued.fetch_sub(size, Ordering::AcqRel);
            Metrics::inc(&self.metrics.broker_dropped_total);
        }
        Answer::now(Ok(()))
    }

    fn send_elsewhere(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
        outcome: bool,
    ) -> Answer<Result<(), HubError>> {
        self.direct.send(from, to, payload, correlation, outcome)
    }

    fn shared(&self) -> bool {
        true
    }

    fn copy_to_user_elsewhere(
        &self,
        from: &str,
        user: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) {
        self.direct.copy_to_user(from, user, payload, correlation);
    }

    fn broadcast_elsewhere(
        &self,
        from: &str,
        payload: &RawValue,
    ) -> Answer<Result<usize, HubError>> {
        self.direct.broadcast_all(from, payload)
    }

    fn keep_revocation(
        &self,
        revocation: &crate::revocations::Revocation,
    ) -> Answer<Result<(), HubError>> {
        let (client, prefix) = (self.publisher.clone(), self.options.prefix.clone());
        let revocation = revocation.clone();
        Answer::Later(
            async move { super::revocations::keep(&client, &prefix, &revocation).await }.boxed(),
        )
    }

    fn revocations(&self) -> Answer<Vec<crate::revocations::Revocation>> {
        let (client, prefix) = (self.publisher.clone(), self.options.prefix.clone());
        Answer::Later(async move { super::revocations::read(&client, &prefix).await }.boxed())
    }

    fn disconnect_user_elsewhere(
        &self,
        user: &str,
        keep: Option<&str>,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        self.direct.disconnect_user(user, keep, code)
    }

    fn disconnect_elsewhere(
        &self,
        address: &str,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        self.direct.disconnect(address, code)
    }

    fn census_elsewhere(&self, question: &crate::seams::census::Question) -> Answer<Vec<String>> {
        self.direct.census(question)
    }

    fn attach(&self, local: LocalRouter) {
        self.direct.attach(local);
    }

    fn unready_reason(&self) -> Option<String> {
        if !self.publisher.is_connected() || !self.subscriber.is_connected() {
            return Some(format!("redis at {} is not connected", self.options.url));
        }
        if let Some(reason) = self.agreement.unready_reason() {
            return Some(reason);
        }
        if !self.interest.in_sync() {
            return Some("redis: topic subscriptions are being restored".into());
        }
        None
    }
}

/// The writer task: writes publications to Redis in the order they came,
/// those that arrived together in one pipeline.
async fn write_publications(
    publisher: Client,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    queued: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while outgoing.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let bytes: usize = batch.iter().map(|o| o.message.len()).sum();
        let count = batch.len() as u64;
        // While Redis is away the publications cannot reach anyone: they are
        // dropped at once rather than held until a command timeout.
        let written = publisher.is_connected() && write_batch(&publisher, &mut batch).await;
        batch.clear();
        queued.fetch_sub(bytes, Ordering::AcqRel);
        if written {
            Metrics::add(&metrics.broker_published_total, count);
        } else {
            Metrics::add(&metrics.broker_dropped_total, count);
        }
    }
}

/// Writes `batch` (one command, or a pipeline). Whether Redis took it.
async fn write_batch(publisher: &Client, batch: &mut Vec<Outgoing>) -> bool {
    if batch.len() == 1 {
        let Outgoing { channel, message } = batch.pop().expect("one");
        return publisher
            .spublish::<Value, _, _>(channel, message)
            .await
            .is_ok();
    }
    let pipeline = publisher.pipeline();
    for Outgoing { channel, message } in batch.drain(..) {
        if pipeline
            .spublish::<Value, _, _>(channel, message)
            .await
            .is_err()
        {
            return false;
        }
    }
    pipeline.all::<Vec<Value>>().await.is_ok()
}
