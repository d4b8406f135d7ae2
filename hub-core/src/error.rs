//! [`HubError`]: what a hub operation can fail with. Only [`HubError::code`]
//! maps it to the wire.

use std::borrow::Cow;

use crate::permissions::{Refusal, Right};
use crate::protocol::ErrorCode;

/// A failed hub operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// No live session or local actor holds the address.
    #[error("no live session holds address `{0}`")]
    RecipientNotFound(String),
    /// The recipient's queue is full; it is being disconnected.
    #[error("recipient `{0}` is not reading fast enough")]
    RecipientSlow(String),
    /// The recipient's inbox is at `inbox_max_messages` or `inbox_max_bytes`.
    #[error("the inbox of `{0}` is full of messages it has not taken")]
    RecipientQueueFull(String),
    /// A `msg_id` the sender used, within the dedupe window, for another
    /// message (another target or payload).
    #[error("msg_id `{0}` was already used for another message")]
    IdempotencyConflict(String),
    /// The registry holds `max_registered` addresses.
    #[error("the hub already holds {0} addresses (max_registered)")]
    RegistryFull(usize),
    /// The user holds `user_connection_limit` connections in the hub.
    #[error("user `{user}` already holds {max} connections (user_connection_limit)")]
    TooManyUserConnections {
        /// The user.
        user: String,
        /// The cap.
        max: usize,
    },
    /// The hub keeps `max_revocations` revocations.
    #[error("the hub already keeps {0} revocations (max_revocations)")]
    RevocationsFull(usize),
    /// The hub holds `max_topics` topics.
    #[error("the hub already holds {0} topics (max_topics)")]
    TopicLimitReached(usize),
    /// The topic holds `max_subscribers_per_topic` subscribers.
    #[error("topic `{topic}` already has {max} subscribers (max_subscribers_per_topic)")]
    TopicFull {
        /// The topic.
        topic: String,
        /// The cap.
        max: usize,
    },
    /// The session holds `max_topics_per_session` subscriptions.
    #[error("this session already holds {0} subscriptions (max_topics_per_session)")]
    TooManyTopics(usize),
    /// A presence request for a topic whose namespace keeps no member list.
    #[error("topic `{0}` keeps no presence (its namespace's track_presence is off)")]
    PresenceDisabled(String),
    /// The session watches `max_watches_per_session` addresses.
    #[error("this session already watches {0} addresses (max_watches_per_session)")]
    TooManyWatches(usize),
    /// An unsubscribe names a topic the session is not subscribed to.
    #[error("not subscribed to `{0}`")]
    NotSubscribed(String),
    /// A broadcast names more recipients than allowed.
    #[error("broadcast to {count} recipients is over the cap of {max} (broadcast_max_recipients)")]
    BroadcastTooLarge {
        /// Recipients asked for.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A client asked for an address an in-process actor holds.
    #[error("address `{0}` is held by an in-process actor of the server")]
    AddressReserved(String),
    /// An address or topic name is unusable.
    #[error("{0}")]
    InvalidName(String),
    /// A payload could not be encoded as JSON.
    #[error("payload is not valid JSON: {0}")]
    InvalidPayload(String),
    /// The namespace's options or the identity's grants do not allow this.
    #[error("{} {target}: not allowed", right_on(*right))]
    Forbidden {
        /// The missing right.
        right: Right,
        /// The topic or address (`*` for a broadcast to every address).
        target: String,
        /// Whether a grant would have helped.
        refusal: Refusal,
    },
    /// A topic's namespace is not in the config.
    #[error("topic namespace `{0}` is not configured")]
    UnknownNamespace(String),
    /// A payload is larger than its namespace's `max_payload_bytes`.
    #[error("payload of {size} bytes is over the namespace's max_payload_bytes ({max})")]
    PayloadTooLarge {
        /// The payload's size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// The hub's shared state (Redis) did not answer this node.
    #[error("unavailable: {0}")]
    Unavailable(&'static str),
    /// An actor the operation needed has stopped.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl HubError {
    /// The wire code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::RecipientNotFound(_) => ErrorCode::RecipientNotFound,
            Self::RecipientSlow(_) => ErrorCode::RecipientSlow,
            Self::RecipientQueueFull(_) => ErrorCode::RecipientQueueFull,
            Self::IdempotencyConflict(_) => ErrorCode::IdempotencyConflict,
            Self::RegistryFull(_) => ErrorCode::RegistryFull,
            Self::TooManyUserConnections { .. } => ErrorCode::TooManyUserConnections,
            Self::RevocationsFull(_) => ErrorCode::RevocationsFull,
            Self::TopicLimitReached(_) => ErrorCode::TopicLimitReached,
            Self::TopicFull { .. } => ErrorCode::TopicFull,
            Self::BroadcastTooLarge { .. } => ErrorCode::BroadcastTooLarge,
            Self::TooManyTopics(_) => ErrorCode::TooManyTopics,
            Self::NotSubscribed(_) => ErrorCode::NotSubscribed,
            Self::PresenceDisabled(_) => ErrorCode::PresenceDisabled,
            Self::TooManyWatches(_) => ErrorCode::TooManyWatches,
            Self::AddressReserved(_) => ErrorCode::AddressReserved,
            Self::InvalidName(_) | Self::InvalidPayload(_) => ErrorCode::InvalidField,
            Self::Forbidden { .. } => ErrorCode::Forbidden,
            Self::UnknownNamespace(_) => ErrorCode::UnknownNamespace,
            Self::PayloadTooLarge { .. } => ErrorCode::MessageTooLarge,
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// What the client can do about it: the code's hint, or for a denial
    /// the missing right and where it would come from.
    pub fn hint(&self) -> Cow<'static, str> {
        match self {
            Self::Forbidden {
                right,
                target,
                refusal: Refusal::NotGranted,
            } => format!(
                "missing right `{right}` on `{target}`: the token's grants must include it, \
                 or the server's config must open it to everyone"
            )
            .into(),
            Self::Forbidden {
                right,
                target,
                refusal: Refusal::NoClient,
            } => format!(
                "missing right `{right}` on `{target}`: no client may {right} there \
                 (its namespace's policy); the application or the server API does"
            )
            .into(),
            Self::Forbidden {
                right,
                target,
                refusal: Refusal::NotAsked,
            } => format!(
                "`{right}` on `{target}` is decided by the application's backend \
                 (its namespace's policy is `proxy`): ask for it with the request itself"
            )
            .into(),
            Self::UnknownNamespace(namespace) => format!(
                "configure [namespaces.{namespace}] on the server, \
                 or use a topic without `{namespace}:`"
            )
            .into(),
            other => other.code().hint().into(),
        }
    }
}

fn right_on(right: Right) -> &'static str {
    match right {
        Right::Subscribe => "subscribe to topic",
        Right::Publish => "publish to topic",
        Right::Presence => "presence of topic",
        Right::History => "history of topic",
        Right::Send => "send to address",
        Right::Broadcast => "broadcast to address",
        Right::Watch => "watch address",
    }
}
