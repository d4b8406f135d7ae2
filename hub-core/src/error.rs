//! [`HubError`]: what a hub operation can fail with. Only [`HubError::code`]
//! maps it to the wire.

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
    /// The registry holds `max_registered` addresses.
    #[error("the hub already holds {0} addresses (max_registered)")]
    RegistryFull(usize),
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
            Self::RegistryFull(_) => ErrorCode::RegistryFull,
            Self::TopicLimitReached(_) => ErrorCode::TopicLimitReached,
            Self::TopicFull { .. } => ErrorCode::TopicFull,
            Self::BroadcastTooLarge { .. } => ErrorCode::BroadcastTooLarge,
            Self::TooManyTopics(_) => ErrorCode::TooManyTopics,
            Self::NotSubscribed(_) => ErrorCode::NotSubscribed,
            Self::AddressReserved(_) => ErrorCode::AddressReserved,
            Self::InvalidName(_) | Self::InvalidPayload(_) => ErrorCode::InvalidField,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}
