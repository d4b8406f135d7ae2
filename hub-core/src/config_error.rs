//! Why a configuration cannot run, naming the key at fault.

/// A configuration the hub cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size, count or timing that must be positive is 0.
    #[error("{field} must be greater than 0")]
    Zero {
        /// The config key.
        field: &'static str,
    },
    /// `rate_limit_per_sec` is set but `rate_limit_burst` is 0.
    #[error("rate_limit_burst must be at least 1 when rate_limit_per_sec is set")]
    BurstTooSmall,
    /// `heartbeat_timeout_ms` is not above `heartbeat_interval_ms`: a client
    /// pinging on schedule would be timed out.
    #[error("heartbeat_timeout_ms must be greater than heartbeat_interval_ms")]
    HeartbeatTimeoutTooShort,
    /// `outbound_queue_bytes` is below `max_message_bytes`.
    #[error("outbound_queue_bytes must be at least max_message_bytes")]
    QueueSmallerThanMessage,
    /// `sse_post_max_bytes` is below `max_message_bytes`.
    #[error("sse_post_max_bytes must be at least max_message_bytes")]
    SsePostSmallerThanMessage,
    /// The inbox store could not be opened or read.
    #[error("the inbox store cannot be used: {0}")]
    Store(String),
    /// The Redis engine's options are unusable (a bad URL).
    #[error("the redis engine cannot be used: {0}")]
    Redis(String),
    /// `abuse_cooldown_max_ms` is below `abuse_cooldown_ms`.
    #[error("abuse_cooldown_max_ms must be at least abuse_cooldown_ms")]
    CooldownMaxTooShort,
    /// An entry of `trusted_proxies` is neither an address nor a CIDR range.
    #[error("trusted_proxies: `{0}` is neither an IP address nor a CIDR range like 10.0.0.0/8")]
    BadProxy(String),
    /// A namespace name is empty or holds `:`, `*` or whitespace.
    #[error("namespace name `{0}` must be non-empty, without `:`, `*` or spaces")]
    BadNamespace(String),
    /// A namespace asks for `join_leave` without `track_presence`.
    #[error("namespaces.{0}: join_leave needs track_presence = true")]
    JoinLeaveWithoutPresence(String),
    /// A policy other than a namespace's `subscribe` or `publish` is `proxy`.
    #[error("{0}: only a namespace's subscribe and publish may be \"proxy\" (asked of the application's backend)")]
    ProxyPolicy(String),
    /// A namespace's policy is `proxy`, and no backend answers it.
    #[error(
        "namespaces.{namespace}: {right} = \"proxy\" needs a backend that decides it ({hint})"
    )]
    NoBackend {
        /// The namespace.
        namespace: String,
        /// `subscribe` or `publish`.
        right: &'static str,
        /// Where one comes from.
        hint: &'static str,
    },
    /// A namespace's history options do not fit the session queue.
    #[error("namespaces.{namespace}: {why}")]
    BadHistory {
        /// The namespace.
        namespace: String,
        /// What is wrong.
        why: String,
    },
}

impl ConfigError {
    /// The config key at fault.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Zero { field } => field,
            Self::BurstTooSmall => "rate_limit_burst",
            Self::HeartbeatTimeoutTooShort => "heartbeat_timeout_ms",
            Self::QueueSmallerThanMessage => "outbound_queue_bytes",
            Self::SsePostSmallerThanMessage => "sse_post_max_bytes",
            Self::BadNamespace(_)
            | Self::BadHistory { .. }
            | Self::JoinLeaveWithoutPresence(_)
            | Self::ProxyPolicy(_)
            | Self::NoBackend { .. } => "namespaces",
            Self::BadProxy(_) => "trusted_proxies",
            Self::CooldownMaxTooShort => "abuse_cooldown_max_ms",
            Self::Store(_) => "data_dir",
            Self::Redis(_) => "redis_url",
        }
    }
}
