//! Routing: where a message for an address or a topic goes, on this node.
//!
//! Every path a message takes out of a session or the application passes
//! through the [`Router`]: a direct send, a broadcast (a list of addresses or
//! every address), a publish (handed to the topic actor, which fans out). It
//! reads the two routing tables — address → [`Endpoint`], written only by the
//! registry actor, and topic → topic actor, written only by the topic
//! directory — and pushes encoded frames into sessions' outbound queues or
//! in-process actors' mailboxes. Nothing here waits on an actor.
//!
//! Data flows one way: session or `Hub` → `Router` → (topic | endpoint) →
//! outbound queue → socket writer.

use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::value::RawValue;

use crate::durable::ports::InboxPorts;
use crate::durable::store::Remembered;
use crate::error::HubError;
use crate::message_frame::encode_message;
use crate::metrics::Metrics;
use crate::outbox::{Pushed, SessionHandle};
use crate::protocol::{user_of, validate_name, CloseCode, Correlation};
use crate::seams::broker::Broker;
use crate::seams::{detach, Answer};
use crate::topic::registry::{PublishCreating, TopicIndex, TopicKind, TopicRegistry};
use crate::topic::{Publish, PublishRecorded, Published, Topic};

mod broadcasting;
mod endpoints;
mod users;
pub(crate) use endpoints::Endpoints;

/// Where an address leads.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// A WebSocket session.
    Session(SessionHandle),
    /// An in-process actor registered by the application.
    Local(Recipient<DirectMessage>),
}

/// A direct message for an in-process actor registered with
/// [`Hub::register_local`](crate::Hub::register_local).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DirectMessage {
    /// The sender's address; reply with [`Hub::send`](crate::Hub::send) using it as `to`.
    pub from: Arc<str>,
    /// The address this was sent to (the local actor's own).
    pub to: Arc<str>,
    /// Set when the sender expects a reply; answer with
    /// [`Hub::send`](crate::Hub::send) and
    /// [`SendOptions::reply_to`](crate::SendOptions::reply_to).
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

/// Where [`Router::route_send`] sends a direct message.
pub(crate) enum SendRoute<'a> {
    /// Stored first, by the inbox actor behind these ports.
    Stored(&'a InboxPorts),
    /// Straight to its holder, here or on another node.
    Live,
}

/// This node's routing tables and the limits that bound a route.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    endpoints: Endpoints,
    topics: TopicIndex,
    /// Creates topics with history on their first publication.
    topic_registry: Addr<TopicRegistry>,
    /// Carries publications to the other nodes.
    broker: Arc<dyn Broker>,
    /// Where direct messages are stored (durability on).
    stored: Option<InboxPorts>,
    metrics: Arc<Metrics>,
    max_name_bytes: usize,
    broadcast_max_recipients: usize,
}

impl Router {
    pub(crate) fn new(
        endpoints: Endpoints,
        topics: TopicIndex,
        topic_registry: Addr<TopicRegistry>,
        broker: Arc<dyn Broker>,
        metrics: Arc<Metrics>,
        max_name_bytes: usize,
        broadcast_max_recipients: usize,
    ) -> Self {
        Self {
            endpoints,
            topics,
            topic_registry,
            broker,
            stored: None,
            metrics,
            max_name_bytes,
            broadcast_max_recipients,
        }
    }

    /// Direct messages are stored first, through `stored` (durability on).
    pub(crate) fn with_stored(mut self, stored: Option<InboxPorts>) -> Self {
        self.stored = stored;
        self
    }

    /// Whether an in-process actor holds `address`.
    fn is_local(&self, address: &str) -> bool {
        matches!(
            self.endpoints.get(address).as_deref(),
            Some(Endpoint::Local(_))
        )
    }

    /// Where a direct message to `to` goes: stored first (durability on,
    /// unless `live_only` or an in-process actor holds `to`, which takes
    /// it at once), or straight to its holder here or on another node
    /// ([`Router::send_anywhere`]). The session and `Hub` carry it out.
    pub(crate) fn route_send(&self, to: &str, live_only: bool) -> SendRoute<'_> {
        match &self.stored {
            Some(stored) if !live_only && !self.is_local(to) => SendRoute::Stored(stored),
            _ => SendRoute::Live,
        }
    }

    /// Asks the session holding `address` to close with `code`. Returns
    /// whether a session held it (an in-process actor is not a session).
    pub(crate) fn disconnect(&self, address: &str, code: CloseCode) -> bool {
        match self.endpoints.get(address).as_deref() {
            // One already closing (its endpoint goes once it has) is not
            // held any more: nothing to disconnect.
            Some(Endpoint::Session(handle)) if !handle.is_closing() => {
                handle.close(code);
                true
            }
            _ => false,
        }
    }

    /// Closes the session holding `address` wherever it is held: here, or
    /// on the node that holds it (the broker asks it); answers whether a
    /// session in the hub held it.
    pub(crate) fn disconnect_anywhere(
        &self,
        address: &str,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        if self.disconnect(address, code) {
            return Answer::now(Ok(true));
        }
        self.broker.disconnect_elsewhere(address, code)
    }

    /// Up to `limit` topics alive on this node whose names start with
    /// `prefix`, in name order, with their actors. Walks every topic: for
    /// the server API and tools, not for a hot path.
    pub(crate) fn topics(&self, prefix: &str, limit: usize) -> Vec<(Arc<str>, Addr<Topic>)> {
        let mut found: Vec<_> = self
            .topics
            .iter()
            .filter(|e| e.key().starts_with(prefix))
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect();
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        found.truncate(limit);
        found
    }

    /// Checks a name (address, topic, correlation id) as every route does.
    ///
    /// # Errors
    /// `InvalidName`: empty, too long, or with a control character.
    pub(crate) fn check_name(&self, kind: &str, name: &str) -> Result<(), HubError> {
        validate_name(kind, name, self.max_name_bytes).map_err(HubError::InvalidName)
    }

    /// Sends a direct message to `to` wherever it is held: here (answered
    /// at once, as [`Router::send`]), else on the node that holds it (the
    /// broker asks it: answered with that node's outcome; with `outcome`
    /// false, once it is on its way). One node answers every send at once.
    pub(crate) fn send_anywhere(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
        outcome: bool,
    ) -> Answer<Result<(), HubError>> {
        match self.send(from, to, payload, correlation.clone()) {
            Err(HubError::RecipientNotFound(_)) => {
                self.broker
                    .send_elsewhere(from, to, payload, correlation, outcome)
            }
            sent => {
                // A user's connections on other nodes get it too; the
                // outcome is this node's.
                if self.broker.shared() && user_of(to).is_none() && !self.is_local(to) {
                    self.broker
                        .copy_to_user_elsewhere(from, to, payload, correlation);
                }
                Answer::now(sent)
            }
        }
    }

    /// Routes one direct message: a lock-free lookup in the endpoints map, then a
    /// non-waiting push into the recipient's queue. `Ok` means the recipient's
    /// queue (or mailbox) accepted it.
    ///
    /// # Errors
    /// `RecipientNotFound` (no holder, or its session is closing) or `RecipientSlow`.
    pub(crate) fn send(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) -> Result<(), HubError> {
        if let Some(devices) = self.endpoints.devices_of(to) {
            return self.send_to_user(from, to, &devices, payload, correlation);
        }
        let endpoint = self.endpoints.get(to).map(|e| e.clone());
        let result = match endpoint {
            None => Err(HubError::RecipientNotFound(to.to_owned())),
            Some(endpoint) => {
                let frame = || encode_message(None, from, payload, correlation.clone());
                deliver(&endpoint, to, frame, from, payload, &correlation)
            }
        };
        if result.is_ok() {
            Metrics::inc(&self.metrics.deliveries_total);
        }
        result
    }

    /// Hands a publication to the broker for the other nodes, and to
    /// `topic`'s actor here, encoded once so the topic only copies a pointer
    /// per subscriber. `known`: the topic's actor when the caller already
    /// holds it (a subscriber publishing). The request is enqueued before
    /// this returns, so publications and joins from one session reach the
    /// topic in the order they were made. `None`: the topic has no actor on
    /// this node, so no subscriber here.
    pub(crate) fn publish(
        &self,
        topic: &str,
        from: &str,
        payload: &RawValue,
        known: Option<&Addr<Topic>>,
    ) -> Option<actix::dev::Request<Topic, Publish>> {
        let received = Instant::now();
        Metrics::inc(&self.metrics.publications_total);
        let frame = encode_message(Some(topic), from, payload, Correlation::default());
        detach(self.broker.publish(topic, &frame), "broker publish");
        let addr = match known {
            Some(addr) => addr.clone(),
            None => self.topics.get(topic).map(|a| a.clone())?,
        };
        Some(addr.send(Publish { frame, received }))
    }

    /// Publishes to `topic` (with history when `kind` has it) and answers
    /// once it is fanned out. Enqueued before this returns.
    pub(crate) fn publish_answered(
        &self,
        topic: &str,
        from: &str,
        payload: &RawValue,
        known: Option<&Addr<Topic>>,
        kind: TopicKind,
        memo: Option<Remembered>,
    ) -> impl std::future::Future<Output = Result<Published, HubError>> + 'static {
        use futures_util::future::Either;
        if kind.history.is_some() {
            let recorded = self.publish_recorded(topic, from, payload, known, kind, memo);
            return Either::Left(recorded);
        }
        let request = self.publish(topic, from, payload, known);
        Either::Right(async move {
            let recipients = match request {
                // A topic retired on the way had no subscribers.
                Some(request) => request.await.unwrap_or(0),
                None => 0,
            };
            Ok(Published {
                recipients,
                offset: None,
            })
        })
    }

    /// Publishes to a topic whose namespace keeps history: the topic
    /// numbers, records, then fans out, and the answer comes after the
    /// record. A topic without an actor here is created by the topic registry,
    /// so the publication is kept for those who recover later. Enqueued
    /// before this returns, like [`Router::publish`].
    pub(crate) fn publish_recorded(
        &self,
        topic: &str,
        from: &str,
        payload: &RawValue,
        known: Option<&Addr<Topic>>,
        kind: TopicKind,
        memo: Option<Remembered>,
    ) -> impl std::future::Future<Output = Result<Published, HubError>> + 'static {
        let received = Instant::now();
        let publication = || PublishRecorded {
            from: from.into(),
            payload: payload.to_owned(),
            memo: memo.clone(),
            received,
        };
        let metrics = self.metrics.clone();
        let existing = known
            .cloned()
            .or_else(|| self.topics.get(topic).map(|a| a.clone()));
        let topic: Arc<str> = topic.into();
        let topic_registry = self.topic_registry.clone();
        let creating = move |publication| {
            topic_registry.send(PublishCreating {
                topic,
                kind,
                publication,
            })
        };
        let sent = existing.map(|addr| (addr.send(publication()), publication()));
        let first = sent.is_none().then(|| creating.clone()(publication()));
        let published = async move {
            let stopped = || HubError::Internal("topic registry stopped");
            if let Some((request, again)) = sent {
                match request.await {
                    Ok(result) => return result,
                    // Retired while this was on its way: the topic registry makes a new one.
                    Err(_) => return creating(again).await.map_err(|_| stopped())?,
                }
            }
            match first {
                Some(request) => request.await.map_err(|_| stopped())?,
                None => Err(stopped()),
            }
        };
        async move {
            let result = published.await;
            if result.is_ok() {
                Metrics::inc(&metrics.publications_total);
            }
            result
        }
    }
}

/// Pushes a direct message to one endpoint: `frame` (encoded on demand)
/// into a session's queue, or the message to an in-process actor.
fn deliver(
    endpoint: &Endpoint,
    to: &str,
    frame: impl FnOnce() -> ByteString,
    from: &str,
    payload: &RawValue,
    correlation: &Correlation<&str>,
) -> Result<(), HubError> {
    match endpoint {
        Endpoint::Session(handle) => match handle.push(frame()) {
            Pushed::Accepted => Ok(()),
            Pushed::Slow => Err(HubError::RecipientSlow(to.to_owned())),
            Pushed::Gone => Err(HubError::RecipientNotFound(to.to_owned())),
        },
        Endpoint::Local(recipient) => {
            deliver_local(recipient, from, to, payload, correlation.clone())
        }
    }
}

fn deliver_local(
    recipient: &Recipient<DirectMessage>,
    from: &str,
    to: &str,
    payload: &RawValue,
    correlation: Correlation<&str>,
) -> Result<(), HubError> {
    recipient
        .try_send(DirectMessage {
            from: from.into(),
            to: to.into(),
            payload: payload.to_owned(),
            correlation_id: correlation.correlation_id.map(Into::into),
            in_reply_to: correlation.in_reply_to.map(Into::into),
        })
        .map_err(|e| match e {
            SendError::Full(_) => HubError::RecipientSlow(to.to_owned()),
            SendError::Closed(_) => HubError::RecipientNotFound(to.to_owned()),
        })
}
