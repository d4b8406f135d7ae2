//! What the application's own code sends: [`Hub::send`], [`Hub::publish`]
//! and [`Hub::broadcast`]. Each takes an options value (the defaults are
//! what a client's frame does), reaches the whole hub (with the Redis
//! engine, holders and subscribers on every node), and answers as the
//! frame it mirrors (`hub:send`, `hub:publish`, `hub:broadcast`) is
//! answered. The router decides where each goes; this only translates.

use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;

use super::Hub;
use crate::durable::desk::Append;
use crate::durable::once::{at_most_once, broadcast_fingerprint, fingerprint, memo_of};
use crate::durable::store::Outcome;
use crate::error::HubError;
use crate::protocol::{BroadcastTarget, Correlation, DeliveryStatus};
use crate::route::{DirectMessage, SendRoute};
use crate::topic::registry::TopicKind;

/// How [`Hub::send`] sends. The default is what a client's `hub:send`
/// does: stored first when the hub has an inbox store, hub-wide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Idempotency key: with an inbox store, a second send with the same
    /// `from`, `msg_id`, `to` and payload within `dedupe_window_ms` gets
    /// the first answer and stores nothing; the same `msg_id` for another
    /// message is `IdempotencyConflict`. Without a store it is not kept.
    pub msg_id: Option<String>,
    /// Set when a reply is expected; the recipient answers with it as
    /// `in_reply_to`.
    pub correlation_id: Option<String>,
    /// Set when this message answers a request carrying this
    /// `correlation_id`.
    pub in_reply_to: Option<String>,
    /// Delivered to a live holder now or refused `recipient_not_found`;
    /// never stored, even with an inbox store.
    pub live_only: bool,
}

impl SendOptions {
    /// The options of a reply to `request`: `in_reply_to` is its
    /// `correlation_id`. Send it from `request.to` to `request.from`.
    pub fn reply_to(request: &DirectMessage) -> Self {
        Self {
            in_reply_to: request.correlation_id.as_deref().map(Into::into),
            ..Self::default()
        }
    }

    /// With an idempotency key (see [`SendOptions::msg_id`]).
    #[must_use]
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }

    /// Expecting a reply carrying `correlation_id` as its `in_reply_to`.
    #[must_use]
    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    /// Never stored: delivered to a live holder now, or refused.
    #[must_use]
    pub fn live_only(mut self) -> Self {
        self.live_only = true;
        self
    }
}

/// How [`Hub::publish`] publishes. The default is a client's `hub:publish`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PublishOptions {
    /// Idempotency key, as [`SendOptions::msg_id`] (for `from`, `topic`
    /// and payload): a retry publishes nothing and gets the first answer.
    pub msg_id: Option<String>,
}

impl PublishOptions {
    /// With an idempotency key (see [`PublishOptions::msg_id`]).
    #[must_use]
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }
}

/// How [`Hub::broadcast`] broadcasts. The default is a client's
/// `hub:broadcast`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Idempotency key, as [`SendOptions::msg_id`] (for `from`, the
    /// target and payload): a retry delivers nothing and gets the first
    /// answer.
    pub msg_id: Option<String>,
}

impl BroadcastOptions {
    /// With an idempotency key (see [`BroadcastOptions::msg_id`]).
    #[must_use]
    pub fn msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.msg_id = Some(msg_id.into());
        self
    }
}

/// What a publication reached, as [`Hub::publish`] answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publication {
    /// Subscribers on this node whose queues took it (as
    /// `hub:publish_ack` counts them).
    pub recipients: usize,
    /// Its offset, in a namespace with history.
    pub offset: Option<u64>,
}

/// What a broadcast reached, as [`Hub::broadcast`] answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Broadcast {
    /// Recipients on every node whose queues (or mailboxes) took it.
    pub recipients: usize,
    /// Listed addresses no node holds.
    pub not_found: Vec<String>,
}

impl Hub {
    /// Sends `payload` from `from` to the address `to`, as a client's
    /// `hub:send` does, with the same outcome: with an inbox store (see
    /// [`HubBuilder::inbox_store`](crate::HubBuilder::inbox_store)) the
    /// message is stored first and the answer is
    /// [`DeliveryStatus::Accepted`] (handed to the recipient's session) or
    /// [`DeliveryStatus::Queued`] (kept until it connects); without one (or
    /// with [`SendOptions::live_only`], or to an in-process address) it is
    /// delivered to a live holder now or refused. Hub-wide: a recipient
    /// held on another node gets it there, and the answer is that node's.
    ///
    /// # Errors
    /// `RecipientNotFound` (not connected, and not known), `RecipientSlow`,
    /// `RecipientQueueFull`, `InvalidName`, `InvalidPayload`,
    /// `IdempotencyConflict`, `Unavailable` (the recipient's node did not
    /// answer), or `Internal` when the store failed.
    pub async fn send(
        &self,
        from: &str,
        to: &str,
        payload: &impl Serialize,
        options: SendOptions,
    ) -> Result<DeliveryStatus, HubError> {
        let payload = to_raw(payload)?;
        let router = &self.node.router;
        router.check_name("address", to)?;
        let ids = [
            ("correlation_id", &options.correlation_id),
            ("in_reply_to", &options.in_reply_to),
        ];
        for (kind, value) in ids {
            if let Some(value) = value {
                router.check_name(kind, value)?;
            }
        }
        match router.route_send(to, options.live_only) {
            SendRoute::Stored(stored) => stored
                .append
                .send(Append {
                    from: from.into(),
                    to: to.into(),
                    payload,
                    correlation_id: options.correlation_id.map(Into::into),
                    in_reply_to: options.in_reply_to.map(Into::into),
                    msg_id: options.msg_id.map(Into::into),
                    receipt: None,
                })
                .await
                .map_err(|_| HubError::Internal("the inbox actor stopped"))?,
            SendRoute::Live => {
                let correlation = Correlation {
                    correlation_id: options.correlation_id.as_deref(),
                    in_reply_to: options.in_reply_to.as_deref(),
                };
                let sent = router.send_anywhere(from, to, &payload, correlation, true);
                sent.await.map(|()| DeliveryStatus::Accepted)
            }
        }
    }

    /// Publishes `payload` to `topic` as `from`, as a client's
    /// `hub:publish` does: to its subscribers on every node; in a namespace
    /// with history the publication is kept (stored, with an inbox store)
    /// before it is fanned out, and answered with its offset.
    ///
    /// # Errors
    /// `InvalidName`, `InvalidPayload`, `IdempotencyConflict`; `Internal`
    /// if the topic stopped while the publication was on its way, or the
    /// store failed; `Unavailable` when a history kept in Redis cannot be
    /// reached.
    pub async fn publish(
        &self,
        topic: &str,
        from: &str,
        payload: &impl Serialize,
        options: PublishOptions,
    ) -> Result<Publication, HubError> {
        let payload = to_raw(payload)?;
        let node = self.node.clone();
        node.router.check_name("topic", topic)?;
        let kind = node
            .permissions
            .options_of(topic)
            .map(TopicKind::of)
            .unwrap_or_default();
        let msg_id = options.msg_id;
        let outcome = match (&msg_id, node.stored.clone()) {
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
                at_most_once(inboxes, from, msg_id.as_str().into(), print, publish).await?
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
            _ => Err(HubError::IdempotencyConflict(msg_id.unwrap_or_default())),
        }
    }

    /// Sends one payload from `from` to several addresses, or to every
    /// address in the hub but `from` ([`BroadcastTarget::All`]), as a
    /// client's `hub:broadcast` does: delivered on this node at once and
    /// asked of the other nodes, answered with every recipient that took
    /// it and the listed addresses no node holds. Never stored.
    ///
    /// # Errors
    /// `BroadcastTooLarge` (over `broadcast_max_recipients`),
    /// `InvalidName`, `InvalidPayload` or `IdempotencyConflict`; nothing is
    /// delivered then.
    pub async fn broadcast(
        &self,
        from: &str,
        to: &BroadcastTarget,
        payload: &impl Serialize,
        options: BroadcastOptions,
    ) -> Result<Broadcast, HubError> {
        let payload = to_raw(payload)?;
        let node = self.node.clone();
        let outcome = match (&options.msg_id, node.stored.clone()) {
            (Some(msg_id), Some(inboxes)) => {
                let print = broadcast_fingerprint(to, &payload);
                let from: Arc<str> = from.into();
                let to = to.clone();
                let broadcast = {
                    let from = from.clone();
                    move || node.router.broadcast_outcome(&from, &to, &payload)
                };
                at_most_once(inboxes, from, msg_id.as_str().into(), print, broadcast).await?
            }
            _ => {
                let (recipients, not_found) =
                    node.router.broadcast_across(from, to, &payload)?.await;
                Outcome::Broadcast {
                    recipients,
                    not_found,
                }
            }
        };
        match outcome {
            Outcome::Broadcast {
                recipients,
                not_found,
            } => Ok(Broadcast {
                recipients,
                not_found,
            }),
            _ => Err(HubError::IdempotencyConflict(
                options.msg_id.unwrap_or_default(),
            )),
        }
    }
}

fn to_raw(payload: &impl Serialize) -> Result<Box<RawValue>, HubError> {
    serde_json::value::to_raw_value(payload).map_err(|e| HubError::InvalidPayload(e.to_string()))
}
