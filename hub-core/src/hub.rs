//! [`Hub`]: the handle an application holds. It starts the registry and topic
//! directory actors, is passed to the WebSocket endpoint, and lets the
//! application's own code publish, send, broadcast and register in-process
//! actors under an address.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use bytestring::ByteString;
use dashmap::DashMap;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::auth::{AllowAll, Authenticator};
use crate::config::Config;
use crate::directory::TopicDirectory;
use crate::error::HubError;
use crate::metrics::Metrics;
use crate::protocol::{validate_name, Correlation, ServerFrame};
use crate::registry::{Drain, Owner, Register, Registry, Unregister};
use crate::session::{OutFrame, Pushed, SessionHandle};
use crate::topic::{Publish, Topic};

/// address → endpoint; written only by the registry actor.
pub(crate) type Presence = Arc<DashMap<Arc<str>, Endpoint>>;
/// topic → topic actor; written only by the topic directory actor.
pub(crate) type TopicIndex = Arc<DashMap<Arc<str>, Addr<Topic>>>;

/// Where an address leads.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// A WebSocket session.
    Session(SessionHandle),
    /// An in-process actor registered by the application.
    Local(Recipient<DirectMessage>),
}

/// A direct message for an in-process actor registered with
/// [`Hub::register_local`].
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DirectMessage {
    /// The sender's address; reply with [`Hub::send`] using it as `to`.
    pub from: Arc<str>,
    /// The address this was sent to (the local actor's own).
    pub to: Arc<str>,
    /// Set when the sender expects a reply; answer with [`Hub::reply`].
    pub correlation_id: Option<Arc<str>>,
    /// Set when this message answers a request this actor sent.
    pub in_reply_to: Option<Arc<str>>,
    /// The payload, verbatim JSON.
    pub payload: Box<RawValue>,
}

impl DirectMessage {
    /// Deserializes the payload.
    ///
    /// # Errors
    /// The payload does not match `T`.
    pub fn payload_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.payload.get())
    }
}

/// State shared by the hub handle, the endpoint and every session.
pub(crate) struct HubInner {
    pub(crate) config: Config,
    pub(crate) registry: Addr<Registry>,
    pub(crate) directory: Addr<TopicDirectory>,
    pub(crate) presence: Presence,
    pub(crate) topic_index: TopicIndex,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) draining: AtomicBool,
    pub(crate) next_session: AtomicU64,
    /// Cloned into every session; shutdown waits for the last clone to drop.
    drain_tx: Mutex<Option<mpsc::Sender<()>>>,
    drain_rx: Mutex<Option<mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for HubInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubInner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl HubInner {
    /// A guard for a new session, or `None` once draining has begun.
    pub(crate) fn drain_guard(&self) -> Option<mpsc::Sender<()>> {
        self.drain_tx.lock().ok()?.clone()
    }
}

/// Builds a [`Hub`] with a custom authenticator.
#[derive(Debug)]
pub struct HubBuilder {
    config: Config,
    authenticator: Option<Arc<dyn Authenticator>>,
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

    /// Starts the hub's actors on the current actix system.
    ///
    /// # Errors
    /// The configuration is invalid.
    ///
    /// # Panics
    /// When called outside an actix system (e.g. not inside `#[actix_web::main]`).
    pub fn start(self) -> Result<Hub, String> {
        self.config.validate()?;
        let config = self.config;
        let metrics = Arc::new(Metrics::default());
        let presence: Presence = Arc::new(DashMap::new());
        let topic_index: TopicIndex = Arc::new(DashMap::new());
        let registry = Registry::new(
            presence.clone(),
            config.max_registered,
            config.registration_ttl(),
            Duration::from_millis(config.ttl_sweep_interval_ms),
            metrics.clone(),
        )
        .start();
        let directory = TopicDirectory::new(
            topic_index.clone(),
            config.max_topics,
            config.max_subscribers_per_topic,
            Duration::from_millis(config.topic_idle_grace_ms),
            metrics.clone(),
        )
        .start();
        let (drain_tx, drain_rx) = mpsc::channel(1);
        Ok(Hub {
            inner: Arc::new(HubInner {
                config,
                registry,
                directory,
                presence,
                topic_index,
                metrics,
                authenticator: self.authenticator.unwrap_or_else(|| Arc::new(AllowAll)),
                draining: AtomicBool::new(false),
                next_session: AtomicU64::new(1),
                drain_tx: Mutex::new(Some(drain_tx)),
                drain_rx: Mutex::new(Some(drain_rx)),
            }),
        })
    }
}

/// The application's handle on a running hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl Hub {
    /// A builder for a hub with `config`.
    pub fn builder(config: Config) -> HubBuilder {
        HubBuilder {
            config,
            authenticator: None,
        }
    }

    /// Starts a hub with `config` and no authentication.
    ///
    /// # Errors
    /// The configuration is invalid.
    pub fn start(config: Config) -> Result<Self, String> {
        Self::builder(config).start()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The hub's counters and gauges.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Whether authentication is enforced (false with the default [`AllowAll`]).
    pub fn auth_enforced(&self) -> bool {
        self.inner.authenticator.is_enforcing()
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }

    /// Sends `payload` from `from` to the address `to`, as a client's
    /// `hub:send` would. `Ok` means the recipient's queue accepted it.
    ///
    /// # Errors
    /// `RecipientNotFound`, `RecipientSlow`, `InvalidName` or `InvalidPayload`.
    pub fn send(&self, from: &str, to: &str, payload: &impl Serialize) -> Result<(), HubError> {
        let payload = to_raw(payload)?;
        self.check_name("address", to)?;
        send_direct(&self.inner, from, to, &payload, Correlation::default())
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
        send_direct(
            &self.inner,
            &request.to,
            &request.from,
            &payload,
            correlation,
        )
    }

    /// Publishes `payload` to `topic` as `from`. Returns how many subscribers'
    /// queues accepted it (0 when the topic has no subscribers).
    ///
    /// # Errors
    /// `InvalidName` or `InvalidPayload`.
    pub async fn publish(
        &self,
        topic: &str,
        from: &str,
        payload: &impl Serialize,
    ) -> Result<usize, HubError> {
        let payload = to_raw(payload)?;
        self.check_name("topic", topic)?;
        let frame = encode_message(Some(topic), from, &payload, Correlation::default());
        let Some(addr) = self.inner.topic_index.get(topic).map(|a| a.clone()) else {
            return Ok(0);
        };
        Ok(addr.send(Publish { frame }).await.unwrap_or(0))
    }

    /// Registers an in-process actor under `address`: clients' `hub:send` to
    /// it arrive as [`DirectMessage`]s, with no network hop. Evicts a session
    /// holding the address. Local registrations do not expire.
    ///
    /// # Errors
    /// `InvalidName` or `RegistryFull`.
    pub async fn register_local(
        &self,
        address: &str,
        recipient: Recipient<DirectMessage>,
    ) -> Result<(), HubError> {
        self.check_name("address", address)?;
        self.inner
            .registry
            .send(Register {
                address: address.into(),
                endpoint: Endpoint::Local(recipient),
            })
            .await
            .map_err(|_| HubError::Internal("registry stopped"))?
    }

    /// Registers a closure under `address`: each client `hub:send` to it calls
    /// `handler` on an actor of its own on the current arbiter (so calls are
    /// sequential). Reply with [`Hub::send`].
    ///
    /// # Errors
    /// `InvalidName` or `RegistryFull`.
    ///
    /// # Panics
    /// When called outside an actix system.
    pub async fn register_handler<F>(&self, address: &str, handler: F) -> Result<(), HubError>
    where
        F: FnMut(DirectMessage) + 'static,
    {
        let actor = LocalHandler(Box::new(handler)).start();
        self.register_local(address, actor.recipient()).await
    }

    /// Removes an in-process actor registered with [`Hub::register_local`].
    pub fn unregister_local(&self, address: &str) {
        self.inner.registry.do_send(Unregister {
            address: address.into(),
            owner: Owner::Local,
        });
    }

    /// Begins graceful shutdown: refuses new connections, tells every session
    /// `server_shutdown` (4000) with reconnect advice, and waits until every
    /// session has closed or `deadline` has passed. Returns how many sessions
    /// were still open at the deadline (0 when all closed in time).
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.inner.draining.store(true, Ordering::Release);
        let told = self.inner.registry.send(Drain).await.unwrap_or(0);
        tracing::info!(sessions = told, "draining sessions");
        // Drop the hub's own guard; the channel closes when the last session's does.
        self.inner.drain_tx.lock().map(|mut g| g.take()).ok();
        let rx = self.inner.drain_rx.lock().ok().and_then(|mut g| g.take());
        if let Some(mut rx) = rx {
            if tokio::time::timeout(deadline, rx.recv()).await.is_err() {
                return self.inner.metrics.connections.load(Ordering::Relaxed) as usize;
            }
        }
        0
    }

    fn check_name(&self, kind: &str, name: &str) -> Result<(), HubError> {
        validate_name(kind, name, self.inner.config.max_name_bytes).map_err(HubError::InvalidName)
    }
}

/// Runs a closure registered with [`Hub::register_handler`].
struct LocalHandler(Box<dyn FnMut(DirectMessage)>);

impl Actor for LocalHandler {
    type Context = Context<Self>;
}

impl Handler<DirectMessage> for LocalHandler {
    type Result = ();

    fn handle(&mut self, msg: DirectMessage, _: &mut Self::Context) {
        (self.0)(msg);
    }
}

fn to_raw(payload: &impl Serialize) -> Result<Box<RawValue>, HubError> {
    serde_json::value::to_raw_value(payload).map_err(|e| HubError::InvalidPayload(e.to_string()))
}

/// Encodes a `hub:message` once; the bytes are shared by every recipient.
pub(crate) fn encode_message(
    topic: Option<&str>,
    from: &str,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> ByteString {
    ServerFrame::Message {
        topic,
        from,
        correlation_id: correlation.correlation_id,
        in_reply_to: correlation.in_reply_to,
        payload,
    }
    .to_json()
    .into()
}

/// Routes one direct message: a lock-free lookup in the presence map, then a
/// non-waiting push into the recipient's queue.
pub(crate) fn send_direct(
    inner: &HubInner,
    from: &str,
    to: &str,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> Result<(), HubError> {
    let endpoint = inner.presence.get(to).map(|e| e.clone());
    let result = match endpoint {
        None => Err(HubError::RecipientNotFound(to.to_owned())),
        Some(Endpoint::Session(handle)) => {
            match handle.push(encode_message(None, from, payload, correlation)) {
                Pushed::Accepted => Ok(()),
                Pushed::Slow => Err(HubError::RecipientSlow(to.to_owned())),
                Pushed::Gone => Err(HubError::RecipientNotFound(to.to_owned())),
            }
        }
        Some(Endpoint::Local(recipient)) => {
            deliver_local(&recipient, from, to, payload.to_owned(), correlation)
        }
    };
    if result.is_ok() {
        Metrics::inc(&inner.metrics.deliveries_total);
    }
    result
}

fn deliver_local(
    recipient: &Recipient<DirectMessage>,
    from: &str,
    to: &str,
    payload: Box<RawValue>,
    correlation: Correlation<&str>,
) -> Result<(), HubError> {
    recipient
        .try_send(DirectMessage {
            from: from.into(),
            to: to.into(),
            payload,
            correlation_id: correlation.correlation_id.map(Into::into),
            in_reply_to: correlation.in_reply_to.map(Into::into),
        })
        .map_err(|e| match e {
            SendError::Full(_) => HubError::RecipientSlow(to.to_owned()),
            SendError::Closed(_) => HubError::RecipientNotFound(to.to_owned()),
        })
}

/// Delivers one encoded broadcast frame to `to`; returns whether it was accepted.
pub(crate) fn deliver_broadcast(
    endpoint: &Endpoint,
    frame: &OutFrame,
    from: &str,
    to: &str,
    payload: &RawValue,
) -> bool {
    match endpoint {
        Endpoint::Session(handle) => handle.push_frame(frame.clone()) == Pushed::Accepted,
        Endpoint::Local(recipient) => deliver_local(
            recipient,
            from,
            to,
            payload.to_owned(),
            Correlation::default(),
        )
        .is_ok(),
    }
}
