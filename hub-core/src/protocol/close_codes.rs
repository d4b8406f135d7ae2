//! Why the server closed a WebSocket: the close codes, their reasons and
//! hints (`docs/PROTOCOL.md`, "Close codes").

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
