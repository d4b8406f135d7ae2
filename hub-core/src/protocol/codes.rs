//! The single table of wire codes: request error codes (sent in `hub:error`,
//! `hub:delivery_ack` and friends) and close codes (sent in the WebSocket close
//! frame). `docs/PROTOCOL.md` mirrors this file; a unit test keeps the codes
//! unique and inside their ranges.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use super::close_codes::{CloseCode, ALL_CLOSE_CODES};

/// A request-level error. The connection stays open; the client fixes the
/// request (or waits) and tries again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The text frame is not valid JSON, or not a JSON object.
    BadJson,
    /// The frame has no string `type` field.
    MissingType,
    /// The `type` is not one this server speaks.
    UnknownType,
    /// A required field is absent.
    MissingField,
    /// A field is present but has the wrong shape or an invalid value.
    InvalidField,
    /// Binary frames are not part of protocol v1.
    BinaryNotSupported,
    /// A frame other than `hub:connect` / `hub:ping` arrived before `hub:connected`.
    NotConnected,
    /// `hub:connect` arrived on a session that is already connected or connecting.
    AlreadyConnected,
    /// The authenticator refused the connect.
    Unauthorized,
    /// `hub:connect` asked for an address an in-process actor of the server holds.
    AddressReserved,
    /// The frame is larger than `max_message_bytes`.
    MessageTooLarge,
    /// The session sent more frames than its rate limit allows.
    RateLimited,
    /// No live session or local actor holds the target address.
    RecipientNotFound,
    /// The recipient's outbound queue is full; it is being disconnected as a slow consumer.
    RecipientSlow,
    /// The recipient's inbox holds `inbox_max_messages` or `inbox_max_bytes`
    /// of stored messages it has not acknowledged.
    RecipientQueueFull,
    /// A `msg_id` this sender used within `dedupe_window_ms` for another
    /// message (another target or payload).
    IdempotencyConflict,
    /// A broadcast names more recipients than `broadcast_max_recipients`.
    BroadcastTooLarge,
    /// The session already holds `max_topics_per_session` subscriptions.
    TooManyTopics,
    /// The topic already holds `max_subscribers_per_topic` subscribers.
    TopicFull,
    /// The hub already holds `max_topics` topics.
    TopicLimitReached,
    /// The hub already holds `max_registered` addresses.
    RegistryFull,
    /// The user already holds `user_connection_limit` connections in the
    /// hub (tabs, devices: `hub:connect` with a `device`).
    TooManyUserConnections,
    /// (server API) The hub keeps `max_revocations` revocations; one more
    /// waits until one runs out.
    RevocationsFull,
    /// The server already holds `max_connections` WebSockets (HTTP 503 on upgrade).
    ConnectionLimitReached,
    /// (HTTP 429 on upgrade, with `Retry-After`) This client IP opens
    /// connections faster than `connection_rate_per_ip`, or holds
    /// `max_connections_per_ip`. On `hub:connect`: a session of this
    /// address from this IP was closed for abuse (4006) and it sits out
    /// `abuse_cooldown_ms`.
    TooManyConnections,
    /// `hub:unsubscribe` for a topic this session is not subscribed to.
    NotSubscribed,
    /// `hub:presence` or `hub:presence_stats` for a topic whose namespace
    /// does not track presence (`track_presence`).
    PresenceDisabled,
    /// The session already watches `max_watches_per_session` addresses.
    TooManyWatches,
    /// The server is shutting down and takes no new work (also HTTP 503 on upgrade).
    ShuttingDown,
    /// (HTTP only) The request is not a valid WebSocket upgrade: HTTP 400,
    /// 405 for another method, 426 for an unsupported version.
    BadHandshake,
    /// (HTTP only) A WebSocket upgrade on a path other than the hub's
    /// WebSocket path: HTTP 404.
    NotFound,
    /// (HTTP only) A browser's upgrade from an origin not in
    /// `allowed_origins`: HTTP 403.
    OriginNotAllowed,
    /// The namespace's options or the token's grants do not allow this
    /// request; the hint names the missing right.
    Forbidden,
    /// The topic's namespace (the part before `:`) is not configured.
    UnknownNamespace,
    /// This node cannot reach the hub's shared state (the Redis engine's
    /// Redis) to decide the request; another node, or this one later, can.
    Unavailable,
    /// (HTTP only) `POST /api/reload`: the config read again changes a
    /// setting that needs a restart, or names a file that cannot be used;
    /// nothing was applied (the message names each): HTTP 409.
    ReloadRefused,
    /// The application's backend (a subscribe, publish or RPC proxy)
    /// refused the request: `reason` carries its own code, `message` its
    /// words.
    Refused,
    /// The request needs the application's backend (`hub:rpc`) and this
    /// hub has none for it.
    NoBackend,
    /// The session already waits for `max_rpcs_per_session` RPC answers.
    TooManyRpcs,
    /// Something failed inside the server; details are in its log.
    Internal,
}

/// Every error code, for documentation tests and tooling.
pub const ALL_ERROR_CODES: &[ErrorCode] = &[
    ErrorCode::BadJson,
    ErrorCode::MissingType,
    ErrorCode::UnknownType,
    ErrorCode::MissingField,
    ErrorCode::InvalidField,
    ErrorCode::BinaryNotSupported,
    ErrorCode::NotConnected,
    ErrorCode::AlreadyConnected,
    ErrorCode::Unauthorized,
    ErrorCode::AddressReserved,
    ErrorCode::MessageTooLarge,
    ErrorCode::RateLimited,
    ErrorCode::RecipientNotFound,
    ErrorCode::RecipientSlow,
    ErrorCode::RecipientQueueFull,
    ErrorCode::IdempotencyConflict,
    ErrorCode::BroadcastTooLarge,
    ErrorCode::TooManyTopics,
    ErrorCode::TopicFull,
    ErrorCode::TopicLimitReached,
    ErrorCode::RegistryFull,
    ErrorCode::TooManyUserConnections,
    ErrorCode::RevocationsFull,
    ErrorCode::ConnectionLimitReached,
    ErrorCode::TooManyConnections,
    ErrorCode::NotSubscribed,
    ErrorCode::PresenceDisabled,
    ErrorCode::TooManyWatches,
    ErrorCode::ShuttingDown,
    ErrorCode::BadHandshake,
    ErrorCode::NotFound,
    ErrorCode::OriginNotAllowed,
    ErrorCode::Forbidden,
    ErrorCode::UnknownNamespace,
    ErrorCode::Unavailable,
    ErrorCode::ReloadRefused,
    ErrorCode::Refused,
    ErrorCode::NoBackend,
    ErrorCode::TooManyRpcs,
    ErrorCode::Internal,
];

impl ErrorCode {
    /// The stable string sent on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::BinaryNotSupported => "binary_not_supported",
            Self::NotConnected => "not_connected",
            Self::AlreadyConnected => "already_connected",
            Self::Unauthorized => "unauthorized",
            Self::AddressReserved => "address_reserved",
            Self::MessageTooLarge => "message_too_large",
            Self::RateLimited => "rate_limited",
            Self::RecipientNotFound => "recipient_not_found",
            Self::RecipientSlow => "recipient_slow",
            Self::RecipientQueueFull => "recipient_queue_full",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::BroadcastTooLarge => "broadcast_too_large",
            Self::TooManyTopics => "too_many_topics",
            Self::TopicFull => "topic_full",
            Self::TopicLimitReached => "topic_limit_reached",
            Self::RegistryFull => "registry_full",
            Self::TooManyUserConnections => "too_many_user_connections",
            Self::RevocationsFull => "revocations_full",
            Self::ConnectionLimitReached => "connection_limit_reached",
            Self::TooManyConnections => "too_many_connections",
            Self::NotSubscribed => "not_subscribed",
            Self::PresenceDisabled => "presence_disabled",
            Self::TooManyWatches => "too_many_watches",
            Self::ShuttingDown => "shutting_down",
            Self::BadHandshake => "bad_handshake",
            Self::NotFound => "not_found",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::Forbidden => "forbidden",
            Self::UnknownNamespace => "unknown_namespace",
            Self::Unavailable => "unavailable",
            Self::ReloadRefused => "reload_refused",
            Self::Refused => "refused",
            Self::NoBackend => "no_backend",
            Self::TooManyRpcs => "too_many_rpcs",
            Self::Internal => "internal",
        }
    }

    /// Parses a wire string back into a code (used by clients).
    pub fn from_wire(s: &str) -> Option<Self> {
        ALL_ERROR_CODES.iter().copied().find(|c| c.as_str() == s)
    }

    /// Whether the same request may succeed later without being changed.
    pub const fn temporary(self) -> bool {
        matches!(
            self,
            Self::RateLimited
                | Self::RecipientNotFound
                | Self::RecipientSlow
                | Self::RecipientQueueFull
                | Self::TopicFull
                | Self::TopicLimitReached
                | Self::RegistryFull
                | Self::TooManyUserConnections
                | Self::RevocationsFull
                | Self::ConnectionLimitReached
                | Self::TooManyConnections
                | Self::ShuttingDown
                | Self::Unavailable
                | Self::TooManyRpcs
                | Self::Internal
        )
    }

    /// A default hint telling the client how to fix the request.
    pub const fn hint(self) -> &'static str {
        match self {
            Self::BadJson => "send one JSON object per text frame",
            Self::MissingType => "add a string \"type\" field, e.g. \"hub:publish\"",
            Self::UnknownType => "use one of the types listed in docs/PROTOCOL.md",
            Self::MissingField | Self::InvalidField => {
                "see docs/PROTOCOL.md for the fields this frame type takes"
            }
            Self::BinaryNotSupported => "send JSON as text frames",
            Self::NotConnected => "send hub:connect first and wait for hub:connected",
            Self::AlreadyConnected => "open a new WebSocket to connect as another address",
            Self::Unauthorized => "send a valid token in hub:connect",
            Self::AddressReserved => "connect under another address; this one belongs to the server",
            Self::MessageTooLarge => "keep each frame under max_message_bytes (see hub:connected limits)",
            Self::RateLimited => "wait retry_after_ms before sending again",
            Self::RecipientNotFound => "check the address; the recipient may connect later",
            Self::RecipientSlow => "the recipient is not reading; retry after it reconnects",
            Self::RecipientQueueFull => {
                "the recipient has too many messages it has not taken; retry later"
            }
            Self::IdempotencyConflict => "use a new msg_id for a new message",
            Self::BroadcastTooLarge => {
                "split the recipients into lists of at most broadcast_max_recipients, or publish to a topic"
            }
            Self::TooManyTopics => "unsubscribe from a topic before subscribing to another",
            Self::TopicFull => "the topic is at max_subscribers_per_topic; retry later",
            Self::TopicLimitReached => "the hub is at max_topics; retry later",
            Self::RegistryFull => "the hub is at max_registered; reconnect after a backoff",
            Self::RevocationsFull => {
                "revoke for a shorter time, or raise max_revocations; entries are forgotten when their time is up"
            }
            Self::TooManyUserConnections => {
                "close another tab or device of this user, or reconnect the same device (its own `device`) to replace it"
            }
            Self::ConnectionLimitReached => {
                "the server is at max_connections; reconnect after a backoff or to another node"
            }
            Self::TooManyConnections => {
                "open fewer connections from this address; retry after Retry-After seconds"
            }
            Self::NotSubscribed => "subscribe before unsubscribing",
            Self::PresenceDisabled => {
                "set track_presence = true in the topic's namespace on the server"
            }
            Self::TooManyWatches => "unwatch an address before watching another",
            Self::ShuttingDown => "reconnect to another node or after the restart",
            Self::BadHandshake => {
                "open a WebSocket: GET with Connection: Upgrade, Upgrade: websocket, \
                 Sec-WebSocket-Version: 13 and a Sec-WebSocket-Key"
            }
            Self::NotFound => "connect to the hub's WebSocket path (ws_path)",
            Self::OriginNotAllowed => "serve the page from an origin listed in allowed_origins",
            Self::Forbidden => "ask for a token whose grants include the right",
            Self::UnknownNamespace => "use a topic in a namespace the server configures",
            Self::Unavailable => "reconnect to another node of the hub, or retry after a backoff",
            Self::ReloadRefused => {
                "restart the server to change the settings named; fix a file it cannot use and \
                 reload again"
            }
            Self::Refused => "the application decided; see reason and message",
            Self::NoBackend => "configure rpc_proxy_url on the server, or do not send hub:rpc",
            Self::TooManyRpcs => "wait for an answer (hub:rpc_ack) before sending another hub:rpc",
            Self::Internal => "retry; if it persists, report it with the session id",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A code this version does not know (sent by a newer server) reads as
/// `internal`; the frame's message still says what happened.
impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_wire(&code).unwrap_or(Self::Internal))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
#[path = "codes_tests.rs"]
mod tests;
