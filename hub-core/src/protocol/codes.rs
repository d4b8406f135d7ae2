//! The single table of wire codes: request error codes (sent in `hub:error`,
//! `hub:delivery_ack` and friends) and close codes (sent in the WebSocket close
//! frame). `docs/PROTOCOL.md` mirrors this file; a unit test keeps the codes
//! unique and inside their ranges.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

/// Why the server closed the WebSocket. Sent as the close frame's code
/// (4000–4499: the client may reconnect with backoff; 4500–4999: terminal,
/// the client must not reconnect automatically).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseCode {
    /// The client sent `hub:disconnect`; a normal WebSocket closure (1000).
    Normal,
    /// The server is shutting down; reconnect after the advised delay.
    ServerShutdown,
    /// Nothing arrived within `heartbeat_timeout_ms`.
    HeartbeatTimeout,
    /// The outbound queue overflowed: the client did not read fast enough.
    SlowConsumer,
    /// The address registration was not refreshed within `registration_ttl_ms`.
    RegistrationExpired,
    /// A frame exceeded `max_message_bytes`; the stream cannot resync past it.
    MessageTooLarge,
    /// The socket did not complete `hub:connect` within `connect_timeout_ms`.
    ConnectTimeout,
    /// The client sent more than `max_protocol_errors` refused frames (malformed,
    /// over the rate limit, ...) within `protocol_error_window_ms`.
    TooManyErrors,
    /// The session's token expired and no fresh one came (`hub:refresh`).
    TokenExpired,
    /// The server (its API or the application) disconnected this session;
    /// the client may reconnect after a backoff.
    Disconnected,
    /// Another connection registered the same address; this one was evicted.
    DuplicateConnection,
    /// The client broke the WebSocket protocol (RFC 6455 §7.4.1, 1002): a
    /// malformed or unmasked frame, a reserved bit or opcode, a fragmented
    /// control frame, a close frame with an invalid code.
    ProtocolError,
    /// A text message or a close reason that is not UTF-8 (RFC 6455 §8.1,
    /// 1007).
    InvalidPayload,
    /// Reserved: sent for protocol violations before they closed with 1002
    /// and 1007; no longer sent, kept so older clients' tables still match.
    Policy,
    /// The server (its API or the application) removed this address and
    /// asks the client not to reconnect.
    Kicked,
    /// The session's token, or its user, was revoked: a connect with it is
    /// refused until the revocation ends.
    Revoked,
}

/// Every close code, for documentation tests and tooling.
pub const ALL_CLOSE_CODES: &[CloseCode] = &[
    CloseCode::Normal,
    CloseCode::ServerShutdown,
    CloseCode::HeartbeatTimeout,
    CloseCode::SlowConsumer,
    CloseCode::RegistrationExpired,
    CloseCode::MessageTooLarge,
    CloseCode::ConnectTimeout,
    CloseCode::TooManyErrors,
    CloseCode::TokenExpired,
    CloseCode::Disconnected,
    CloseCode::DuplicateConnection,
    CloseCode::ProtocolError,
    CloseCode::InvalidPayload,
    CloseCode::Policy,
    CloseCode::Kicked,
    CloseCode::Revoked,
];

impl CloseCode {
    /// The number in the WebSocket close frame.
    pub const fn number(self) -> u16 {
        match self {
            Self::Normal => 1000,
            Self::ProtocolError => 1002,
            Self::InvalidPayload => 1007,
            Self::ServerShutdown => 4000,
            Self::HeartbeatTimeout => 4001,
            Self::SlowConsumer => 4002,
            Self::RegistrationExpired => 4003,
            Self::MessageTooLarge => 4004,
            Self::ConnectTimeout => 4005,
            Self::TooManyErrors => 4006,
            Self::TokenExpired => 4007,
            Self::Disconnected => 4008,
            Self::DuplicateConnection => 4500,
            Self::Policy => 4501,
            Self::Kicked => 4502,
            Self::Revoked => 4503,
        }
    }

    /// The stable reason string sent in the close frame and in `hub:disconnect`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::ProtocolError => "protocol_error",
            Self::InvalidPayload => "invalid_payload",
            Self::ServerShutdown => "server_shutdown",
            Self::HeartbeatTimeout => "heartbeat_timeout",
            Self::SlowConsumer => "slow_consumer",
            Self::RegistrationExpired => "registration_expired",
            Self::MessageTooLarge => "message_too_large",
            Self::ConnectTimeout => "connect_timeout",
            Self::TooManyErrors => "too_many_errors",
            Self::TokenExpired => "token_expired",
            Self::Disconnected => "disconnected",
            Self::DuplicateConnection => "duplicate_connection",
            Self::Policy => "policy",
            Self::Kicked => "kicked",
            Self::Revoked => "revoked",
        }
    }

    /// Whether a client should reconnect automatically after this close.
    pub const fn reconnect(self) -> bool {
        let n = self.number();
        n >= 4000 && n < 4500
    }

    /// Whether this is one of the hub's own codes (4000-4999), told in a
    /// `hub:disconnect` frame before the close frame, rather than one of
    /// RFC 6455's (1000-1015), which the close frame alone carries.
    pub const fn is_hubs_own(self) -> bool {
        self.number() >= 4000
    }

    /// Looks a close code up by its reason string.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_CLOSE_CODES.iter().copied().find(|c| c.as_str() == name)
    }

    /// Looks a close frame's number up (used by clients).
    pub fn from_number(n: u16) -> Option<Self> {
        ALL_CLOSE_CODES.iter().copied().find(|c| c.number() == n)
    }

    /// A hint telling the client what to do next.
    pub const fn hint(self) -> &'static str {
        match self {
            Self::Normal => "closed at the client's request",
            Self::ServerShutdown => "reconnect after retry_after_ms, with jitter",
            Self::HeartbeatTimeout => "send hub:ping every heartbeat_interval_ms, then reconnect",
            Self::SlowConsumer => "read frames faster or subscribe to less, then reconnect",
            Self::RegistrationExpired => {
                "send any frame within registration_ttl_ms, then reconnect"
            }
            Self::MessageTooLarge => "keep frames under max_message_bytes, then reconnect",
            Self::ConnectTimeout => "send hub:connect right after opening the socket, then reconnect",
            Self::TokenExpired => "reconnect with a fresh token; answer hub:refresh to stay connected",
            Self::TooManyErrors => {
                "fix the frames the server refused (see the hub:error frames), then reconnect with backoff"
            }
            Self::DuplicateConnection => {
                "another connection took this address; do not reconnect automatically"
            }
            Self::ProtocolError => {
                "the client's WebSocket library sent a malformed frame; fix the client, do not reconnect automatically"
            }
            Self::InvalidPayload => "send text as UTF-8; fix the client, do not reconnect automatically",
            Self::Policy => "fix the client; do not reconnect automatically",
            Self::Disconnected => "the server ended this session; reconnect after a backoff",
            Self::Kicked => "the server removed this address; do not reconnect automatically",
            Self::Revoked => {
                "this token or user was revoked; do not reconnect automatically (a connect is refused until the revocation ends)"
            }
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.as_str(), self.number())
    }
}

#[cfg(test)]
#[path = "codes_tests.rs"]
mod tests;
