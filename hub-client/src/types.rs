//! What SDK calls return and what the event stream carries.

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub use hub_core::protocol::{CloseCode, DeliveryStatus, ErrorCode};

use crate::error::ClientError;

/// The server's answer to a direct send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAck {
    /// The recipient address.
    pub to: String,
    /// `Accepted`: in the recipient's queue (not yet read). `Rejected`: see `reason`.
    pub status: DeliveryStatus,
    /// Why it was rejected (`recipient_not_found`, `recipient_slow`).
    pub reason: Option<ErrorCode>,
}

impl DeliveryAck {
    /// Whether the recipient's queue accepted the message.
    pub fn is_accepted(&self) -> bool {
        self.status == DeliveryStatus::Accepted
    }
}

/// The server's answer to a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// The topic.
    pub topic: String,
    /// Subscribers whose queue accepted the message.
    pub recipients: u64,
    /// Its offset, in a topic with history (it is stored).
    pub offset: Option<u64>,
}

/// The server's answer to a broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroadcastAck {
    /// Recipients whose queue accepted the message.
    pub recipients: u64,
    /// Listed addresses with no live session.
    pub not_found: Vec<String>,
}

/// Who a broadcast goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Every other registered address (capped by the server's `broadcast_max_recipients`).
    All,
    /// These addresses.
    List(Vec<String>),
}

/// A direct message (or broadcast) for this client.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    /// The sender's address.
    pub from: String,
    /// The payload, verbatim JSON; [`IncomingMessage::payload_as`] reads it.
    pub payload: Box<RawValue>,
    /// Set when the sender waits for a reply: answer with [`crate::Client::reply`].
    pub correlation_id: Option<String>,
    /// A stored message's number in this client's inbox. It is
    /// acknowledged when the application takes it from the
    /// [`EventStream`](crate::EventStream), or with
    /// [`Client::ack`](crate::Client::ack) in manual mode. `None` for a
    /// message the hub did not store.
    pub seq: Option<u64>,
}

impl IncomingMessage {
    /// Deserializes the payload.
    ///
    /// # Errors
    /// [`ClientError::Payload`] when it does not match `T`.
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_str(self.payload.get()).map_err(|e| ClientError::Payload(e.to_string()))
    }
}

/// Equal when sender, correlation id and payload text are.
impl PartialEq for IncomingMessage {
    fn eq(&self, other: &Self) -> bool {
        self.from == other.from
            && self.correlation_id == other.correlation_id
            && self.payload.get() == other.payload.get()
    }
}

/// A publication to a topic the server subscribed this client to.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The topic.
    pub topic: String,
    /// The publisher's address.
    pub from: String,
    /// Its offset in the topic's history (topics with history only).
    pub offset: Option<u64>,
    /// The payload, verbatim JSON.
    pub payload: Box<RawValue>,
}

/// Equal when topic, publisher, offset and payload text are.
impl PartialEq for Publication {
    fn eq(&self, other: &Self) -> bool {
        self.topic == other.topic
            && self.from == other.from
            && self.offset == other.offset
            && self.payload.get() == other.payload.get()
    }
}

/// A message published to a topic this client subscribed to.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicMessage<T> {
    /// The topic.
    pub topic: String,
    /// The publisher's address.
    pub from: String,
    /// Its offset in the topic's history (topics with history only).
    pub offset: Option<u64>,
    /// The payload.
    pub payload: T,
}

/// Why the connection went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server closed it with this code (`hub:disconnect` then a close frame).
    Server {
        /// The close code.
        code: u16,
        /// Its reason string.
        reason: String,
    },
    /// The server stopped answering within the heartbeat timeout.
    HeartbeatTimeout,
    /// The socket failed or ended without a close frame.
    Transport(String),
    /// [`crate::Client::close`] was called.
    ClientClose,
}

/// Lifecycle events and direct messages, from [`crate::Client::events`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A direct message or broadcast for this client.
    Message(IncomingMessage),
    /// The connection went down.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// Whether the client will reconnect by itself.
        will_reconnect: bool,
    },
    /// The client connected again, re-registered its address and resubscribed.
    Reconnected {
        /// The new session id.
        session_id: String,
    },
    /// After a reconnect, a topic was subscribed again (reported after
    /// `Reconnected`, one per topic).
    Resubscribed {
        /// The topic.
        topic: String,
        /// `Some(true)`: every publication missed while away was replayed
        /// from the topic's history, in order, before newer ones.
        /// `Some(false)`: some are no longer in history; nothing was
        /// replayed, so reload the state the topic feeds. `None`: the topic
        /// keeps no history (what was missed is unknown).
        recovered: Option<bool>,
    },
    /// Another connection registered this address; the client has stopped and
    /// will not reconnect (so two clients cannot evict each other in a loop).
    Evicted,
    /// The server refused a fire-and-forget send ([`crate::Client::send_unacked`]).
    Undelivered {
        /// The recipient it was for.
        to: String,
        /// Why (`recipient_not_found`, `recipient_slow`, `rate_limited`, ...).
        reason: ErrorCode,
    },
    /// What became of a message sent with
    /// [`Client::send_with_receipt`](crate::Client::send_with_receipt).
    Receipt(Receipt),
    /// The server subscribed this client to a topic (its token's
    /// `channels`, or the server API): its publications come as
    /// [`Event::Publication`].
    Subscribed {
        /// The topic.
        topic: String,
    },
    /// A publication to a topic the server subscribed this client to.
    Publication(Publication),
    /// The server ended a subscription (its subscription token ran out
    /// unrefreshed: `reason` `token_expired`; the server API: `server`);
    /// its stream ends.
    Unsubscribed {
        /// The topic.
        topic: String,
        /// Why, as the server said.
        reason: String,
    },
    /// A watched address ([`Client::watch`](crate::Client::watch)) came
    /// online. Also after a reconnect, when it did while the link was down.
    Online {
        /// The address.
        address: String,
    },
    /// A watched address went offline (after the server's offline grace).
    /// Also after a reconnect, when it did while the link was down.
    Offline {
        /// The address.
        address: String,
    },
    /// A member came to a topic this client is subscribed to (namespaces
    /// with `join_leave`, given the `presence` right).
    Joined {
        /// The topic.
        topic: String,
        /// Who.
        member: Member,
    },
    /// A member left a topic this client is subscribed to.
    Left {
        /// The topic.
        topic: String,
        /// Its address.
        address: String,
    },
    /// The client stopped for good.
    Closed,
}

/// A member of a topic: a subscribed address, with what its token's
/// `info` claim says about it.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member's address.
    pub address: String,
    /// Its token's `info`, verbatim; [`Member::info_as`] reads it.
    pub info: Option<Box<RawValue>>,
}

impl Member {
    /// Deserializes the info; `None` when the member has none.
    ///
    /// # Errors
    /// [`ClientError::Payload`] when it does not match `T`.
    pub fn info_as<T: DeserializeOwned>(&self) -> Result<Option<T>, ClientError> {
        self.info
            .as_ref()
            .map(|i| serde_json::from_str(i.get()))
            .transpose()
            .map_err(|e| ClientError::Payload(e.to_string()))
    }
}

/// Equal when address and info text are.
impl PartialEq for Member {
    fn eq(&self, other: &Self) -> bool {
        self.address == other.address
            && self.info.as_ref().map(|i| i.get()) == other.info.as_ref().map(|i| i.get())
    }
}

/// One page of a topic's members, from [`Client::presence`](crate::Client::presence).
#[derive(Debug, Clone, PartialEq)]
pub struct PresencePage {
    /// Members in address order.
    pub members: Vec<Member>,
    /// When more follow: pass it as `after` for the next page.
    pub next: Option<String>,
}

/// A receipt: a stored message was acknowledged by its recipient, or
/// expired first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The recipient.
    pub to: String,
    /// The `msg_id` of the send, as this client sent it.
    pub msg_id: Option<String>,
    /// `true`: acknowledged by the recipient; `false`: its TTL passed first.
    pub delivered: bool,
    /// The receipt's own number in this client's inbox (acknowledged like a message).
    pub seq: Option<u64>,
}

/// Where the connection is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected and registered.
    Connected {
        /// The server's session id.
        session_id: String,
    },
    /// Waiting to reconnect, or reconnecting.
    Reconnecting {
        /// Failed attempts since the connection was lost.
        attempt: u32,
    },
    /// Stopped for good.
    Closed,
}
