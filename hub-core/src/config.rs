//! Every limit and timing of the hub, with its default. `docs/PROTOCOL.md`
//! ("Limits") mirrors this table; hub-server reads it from TOML, environment
//! and flags. Durations are plain milliseconds so that every knob is one
//! number in a config file.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::permissions::{valid_namespace_name, DirectOptions, NamespaceOptions, Policy};

use crate::protocol::LimitsInfo;

pub use crate::client_ip::ClientIpHeader;
pub use crate::config_error::ConfigError;

/// The hub's configuration. `Config::default()` is what the server runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Largest accepted text frame, in bytes, checked from the frame header
    /// before the payload is read. Default 65536 (64 KiB).
    pub max_message_bytes: usize,
    /// Longest address or topic name, in bytes. Default 256.
    pub max_name_bytes: usize,
    /// Sustained frames per second one session may send (`hub:ping`,
    /// `hub:connect` and `hub:disconnect` are not counted). 0 disables the
    /// limit. Default 10.
    pub rate_limit_per_sec: u32,
    /// Frames a session may send in a burst above the sustained rate. Default 20.
    pub rate_limit_burst: u32,
    /// How often clients should send `hub:ping`, announced in `hub:connected`.
    /// Default 20000 (20 s).
    pub heartbeat_interval_ms: u64,
    /// Silence after which the server closes a session with `heartbeat_timeout`
    /// (4001). Default 30000 (30 s).
    pub heartbeat_timeout_ms: u64,
    /// Lifetime of an address registration without activity; any frame from
    /// the session refreshes it. An expired session is closed with
    /// `registration_expired` (4003). Default 60000 (60 s).
    pub registration_ttl_ms: u64,
    /// How long an address whose session dropped still counts as online
    /// (and its subscriptions as present): a reconnect within it is
    /// invisible to watchers and to a topic's members; after it, watchers
    /// hear one `hub:offline`. A session that sends `hub:disconnect` goes
    /// offline at once. 0: offline at once. Default 5000 (5 s).
    pub offline_grace_ms: u64,
    /// Addresses one session may watch (`hub:watch`). Default 100.
    pub max_watches_per_session: usize,
    /// `hub:rpc` calls one session may have waiting for the application's
    /// backend at once; one more is refused `too_many_rpcs`. Default 16.
    pub max_rpcs_per_session: usize,
    /// Period of the registry's expiry alarm. Default 1000 (1 s).
    pub ttl_sweep_interval_ms: u64,
    /// Addresses registered at once (sessions and local actors). Default 50000.
    pub max_registered: usize,
    /// Connections one user may hold at once in the whole hub: its own
    /// address and each of its devices (`hub:connect` with a `device`).
    /// One more is refused `too_many_user_connections`; a device connecting
    /// again replaces its own and is not counted twice. 0: no cap.
    /// Default 32.
    pub user_connection_limit: usize,
    /// Headers of a client's WebSocket upgrade (or event stream request)
    /// handed to the authenticator with its `hub:connect`
    /// (`ConnectRequest::headers`): what a connect proxy may see, e.g.
    /// `cookie`, `authorization`, `user-agent`. Lower case. Default empty:
    /// none.
    pub forward_headers: Vec<String>,
    /// Revocations (of a user, or of a token by its `jti`) the hub keeps at
    /// once; one more is refused (`POST /api/revoke` answers
    /// `revocations_full`). Each is forgotten when its time is up.
    /// Default 100000.
    pub max_revocations: usize,
    /// WebSocket connections open at once, connected or not; the upgrade is
    /// refused with HTTP 503 above it. Default 60000.
    pub max_connections: usize,
    /// Origins a browser may open a WebSocket from (the `Origin` header,
    /// e.g. `https://app.example.com`, compared exactly, case-insensitively);
    /// any other origin is refused with HTTP 403 `origin_not_allowed`, against
    /// cross-site WebSocket hijacking. Requests without an `Origin` (not from a
    /// browser) are not affected. Empty: every origin. Default empty.
    pub allowed_origins: Vec<String>,
    /// New WebSocket connections one client IP may open per second (a burst
    /// of as many is allowed); above it the upgrade is refused with HTTP 429
    /// `too_many_connections`. 0: no limit. Default 100.
    pub connection_rate_per_ip: u32,
    /// WebSocket connections one client IP may hold at once; above it the
    /// upgrade is refused with HTTP 429. 0: no cap. Default 1000.
    pub max_connections_per_ip: usize,
    /// After a session was closed with `too_many_errors` (4006), how long
    /// its client IP and address are refused a new `hub:connect` (as that
    /// address), and new sessions from that IP are closed at their first
    /// refused frame before `hub:connect`; doubled for each further strike,
    /// up to `abuse_cooldown_max_ms`. Others behind the same IP (a proxy, a
    /// NAT) are not refused. 0: no cooldown. Default 1000 (1 s).
    pub abuse_cooldown_ms: u64,
    /// The longest abuse cooldown; an IP quiet this long starts over.
    /// Default 30000 (30 s).
    pub abuse_cooldown_max_ms: u64,
    /// Proxies in front of the hub, as addresses or CIDR ranges
    /// (`10.0.0.0/8`, `::1`): from a peer among them, the client's address
    /// is read from `client_ip_header` (the nearest hop not in the list),
    /// for the per-IP caps, the abuse cooldown and the logs. The header is
    /// ignored from any other peer. Default empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies name the client in:
    /// `x-forwarded-for` (nginx, most load balancers) or `forwarded`
    /// (RFC 7239). Only this one is read, so a client cannot slip a forged
    /// one of the other kind past a proxy that only appends to its own.
    /// Default `x-forwarded-for`.
    pub client_ip_header: ClientIpHeader,
    /// Subscriptions one session may hold. Default 100.
    pub max_topics_per_session: usize,
    /// Subscribers one topic may hold. Default 10000.
    pub max_subscribers_per_topic: usize,
    /// Topics alive at once. Default 100000.
    pub max_topics: usize,
    /// Namespaces (in name order) that label the per-namespace metrics
    /// (`signal_hub_namespace_deliveries_total`,
    /// `signal_hub_namespace_refusals_total`); the rest count as `_other`,
    /// so the series stay bounded. Default 100.
    pub metrics_max_namespaces: usize,
    /// Largest recipient list of `hub:broadcast`, and the most registered
    /// addresses a `"to": "*"` broadcast may reach. Default 100.
    pub broadcast_max_recipients: usize,
    /// Frames queued for one session before it is disconnected as a slow
    /// consumer (4002). Default 1024.
    pub outbound_queue_frames: usize,
    /// Bytes queued for one session before it is disconnected as a slow
    /// consumer (4002), so that a client not reading large messages cannot
    /// hold frames-times-size of memory. At least `max_message_bytes`.
    /// Default 1048576 (1 MiB).
    pub outbound_queue_bytes: usize,
    /// How long an empty topic lives before its actor stops. Default 5000 (5 s).
    pub topic_idle_grace_ms: u64,
    /// How long a closing session may take to flush its queue and close frame
    /// before the TCP connection is dropped. Default 5000 (5 s).
    pub close_timeout_ms: u64,
    /// Advised reconnect delay sent with `server_shutdown`. Default 1500.
    pub shutdown_retry_after_ms: u64,
    /// Largest body of one `POST /sse/KEY` (several frames, one per line);
    /// above it the POST is refused with 413 `message_too_large`. At least
    /// `max_message_bytes`. Default 262144 (256 KiB).
    pub sse_post_max_bytes: usize,
    /// Client frames an event stream's POSTs may have waiting for its
    /// session; a POST that would go over it is refused with 429
    /// `rate_limited` (the session is behind). Default 256.
    pub sse_inbound_frames: usize,
    /// Sessions told `server_shutdown` per wave when the hub drains, so
    /// that a restart does not send every client back at once; 0 = all at
    /// once. A drain that would not end within 80 % of its deadline at this
    /// pace takes bigger waves, so nobody is cut off unwarned. Default 1000.
    pub drain_batch_size: usize,
    /// Time between two waves of a drain. Default 100 (so 10,000 sessions
    /// a second by default).
    pub drain_batch_interval_ms: u64,
    /// How long a new socket may take to complete `hub:connect` before it is
    /// closed with `connect_timeout` (4005), WebSocket pings or not.
    /// Default 10000 (10 s).
    pub connect_timeout_ms: u64,
    /// Refused frames (malformed, over the rate limit, not allowed before
    /// `hub:connect`, ...) a session may send within
    /// `protocol_error_window_ms` before it is closed with `too_many_errors`
    /// (4006). Default 50.
    pub max_protocol_errors: u32,
    /// The window of `max_protocol_errors`. Default 10000 (10 s).
    pub protocol_error_window_ms: u64,
    /// Stored messages one address's inbox may hold unacknowledged before
    /// sends to it are refused with `recipient_queue_full` (durability on).
    /// Default 10000.
    pub inbox_max_messages: u64,
    /// Bytes of stored messages one inbox may hold. Default 16777216 (16 MiB).
    pub inbox_max_bytes: u64,
    /// How long a stored message is kept unacknowledged before it is
    /// dropped. Default 604800000 (7 days).
    pub message_ttl_ms: u64,
    /// How long after its last session an address stays known: sends to it
    /// are stored (`queued`) until then, and refused `recipient_not_found`
    /// after, when its inbox is dropped. Default 604800000 (7 days).
    pub offline_retention_ms: u64,
    /// Stored messages handed to a session before it acknowledges them
    /// (capped at `outbound_queue_frames`). Default 256.
    pub inbox_window: u64,
    /// How long a sender's `msg_id` on `hub:send` is remembered (stored,
    /// surviving restarts): a retry within it is answered again and not
    /// stored twice. Default 600000 (10 min).
    pub dedupe_window_ms: u64,
    /// Message ids remembered per sender, however recent. Default 1000.
    pub dedupe_max_per_sender: usize,
    /// Bytes of publications all topic histories of this node keep
    /// together. Past it, a topic that takes a new publication drops its
    /// own oldest first (down to the newest), so the topics publishing most
    /// pay, not the others. Default 268435456 (256 MiB).
    pub history_max_total_bytes: u64,
    /// When stored messages reach the disk: `batch` (an fsync per group
    /// commit, before any sender is answered) or `interval` (every
    /// `fsync_interval_ms`). Default `batch`.
    pub fsync: FsyncPolicy,
    /// With `fsync = "interval"`: the interval. Default 100.
    pub fsync_interval_ms: u64,
    /// Topic namespaces (`[namespaces.chat]` for topics `chat:*`;
    /// `[namespaces.default]` for topics without `:`), each with who may
    /// subscribe, publish, see presence and read history, and its limits.
    /// A topic in a namespace not listed here is refused, except `default`,
    /// which exists with default options. Default: only `default`.
    pub namespaces: BTreeMap<String, NamespaceOptions>,
    /// Who may send to addresses and broadcast (`[direct]`). Default:
    /// those whose grants allow it.
    pub direct: DirectOptions,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            max_name_bytes: 256,
            rate_limit_per_sec: 10,
            rate_limit_burst: 20,
            heartbeat_interval_ms: 20_000,
            heartbeat_timeout_ms: 30_000,
            registration_ttl_ms: 60_000,
            offline_grace_ms: 5_000,
            max_watches_per_session: 100,
            max_rpcs_per_session: 16,
            ttl_sweep_interval_ms: 1_000,
            max_registered: 50_000,
            user_connection_limit: 32,
            max_revocations: 100_000,
            forward_headers: Vec::new(),
            max_connections: 60_000,
            allowed_origins: Vec::new(),
            connection_rate_per_ip: 100,
            max_connections_per_ip: 1000,
            abuse_cooldown_ms: 1_000,
            abuse_cooldown_max_ms: 30_000,
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::XForwardedFor,
            max_topics_per_session: 100,
            max_subscribers_per_topic: 10_000,
            max_topics: 100_000,
            metrics_max_namespaces: 100,
            broadcast_max_recipients: 100,
            outbound_queue_frames: 1024,
            outbound_queue_bytes: 1024 * 1024,
            topic_idle_grace_ms: 5_000,
            close_timeout_ms: 5_000,
            shutdown_retry_after_ms: 1_500,
            sse_post_max_bytes: 256 * 1024,
            sse_inbound_frames: 256,
            drain_batch_size: 1_000,
            drain_batch_interval_ms: 100,
            connect_timeout_ms: 10_000,
            max_protocol_errors: 50,
            protocol_error_window_ms: 10_000,
            inbox_max_messages: 10_000,
            inbox_max_bytes: 16 * 1024 * 1024,
            message_ttl_ms: 7 * 24 * 3_600_000,
            offline_retention_ms: 7 * 24 * 3_600_000,
            inbox_window: 256,
            dedupe_window_ms: 600_000,
            dedupe_max_per_sender: 1000,
            history_max_total_bytes: 256 * 1024 * 1024,
            fsync: FsyncPolicy::Batch,
            fsync_interval_ms: 100,
            namespaces: BTreeMap::new(),
            direct: DirectOptions::default(),
        }
    }
}

impl Config {
    /// Checks values that would make the hub unusable.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("max_message_bytes", self.max_message_bytes as u64),
            ("max_name_bytes", self.max_name_bytes as u64),
            ("heartbeat_interval_ms", self.heartbeat_interval_ms),
            ("heartbeat_timeout_ms", self.heartbeat_timeout_ms),
            ("registration_ttl_ms", self.registration_ttl_ms),
            ("ttl_sweep_interval_ms", self.ttl_sweep_interval_ms),
            ("outbound_queue_frames", self.outbound_queue_frames as u64),
            ("close_timeout_ms", self.close_timeout_ms),
            ("sse_inbound_frames", self.sse_inbound_frames as u64),
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("max_protocol_errors", u64::from(self.max_protocol_errors)),
            ("protocol_error_window_ms", self.protocol_error_window_ms),
            ("inbox_max_messages", self.inbox_max_messages),
            ("inbox_max_bytes", self.inbox_max_bytes),
            ("message_ttl_ms", self.message_ttl_ms),
            ("offline_retention_ms", self.offline_retention_ms),
            ("inbox_window", self.inbox_window),
            ("dedupe_window_ms", self.dedupe_window_ms),
            ("dedupe_max_per_sender", self.dedupe_max_per_sender as u64),
            ("history_max_total_bytes", self.history_max_total_bytes),
            ("fsync_interval_ms", self.fsync_interval_ms),
        ];
        if let Some((field, _)) = positive.into_iter().find(|(_, value)| *value == 0) {
            return Err(ConfigError::Zero { field });
        }
        if self.rate_limit_per_sec > 0 && self.rate_limit_burst == 0 {
            return Err(ConfigError::BurstTooSmall);
        }
        if self.heartbeat_timeout_ms <= self.heartbeat_interval_ms {
            return Err(ConfigError::HeartbeatTimeoutTooShort);
        }
        if self.outbound_queue_bytes < self.max_message_bytes {
            return Err(ConfigError::QueueSmallerThanMessage);
        }
        if self.sse_post_max_bytes < self.max_message_bytes {
            return Err(ConfigError::SsePostSmallerThanMessage);
        }
        if self.abuse_cooldown_max_ms < self.abuse_cooldown_ms {
            return Err(ConfigError::CooldownMaxTooShort);
        }
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|p| crate::client_ip::parse_net(p).is_none())
        {
            return Err(ConfigError::BadProxy(bad.clone()));
        }
        if let Some(bad) = self.namespaces.keys().find(|n| !valid_namespace_name(n)) {
            return Err(ConfigError::BadNamespace(bad.clone()));
        }
        for (name, options) in &self.namespaces {
            self.validate_history(name, options)?;
            if options.join_leave && !options.track_presence {
                return Err(ConfigError::JoinLeaveWithoutPresence(name.clone()));
            }
            if options.presence == Policy::Proxy || options.history == Policy::Proxy {
                return Err(ConfigError::ProxyPolicy(format!("namespaces.{name}")));
            }
        }
        let direct = [self.direct.send, self.direct.broadcast, self.direct.watch];
        if direct.contains(&Policy::Proxy) {
            return Err(ConfigError::ProxyPolicy("direct".into()));
        }
        Ok(())
    }

    /// A recovery replays a topic's whole history into the subscriber's
    /// queue at once, so history must fit in half of it.
    fn validate_history(&self, name: &str, options: &NamespaceOptions) -> Result<(), ConfigError> {
        if options.history_size == 0 {
            return Ok(());
        }
        let bad = |why: String| ConfigError::BadHistory {
            namespace: name.to_owned(),
            why,
        };
        if options.history_size > self.outbound_queue_frames / 2 {
            return Err(bad(format!(
                "history_size {} is over half of outbound_queue_frames ({})",
                options.history_size, self.outbound_queue_frames
            )));
        }
        if options.history_max_bytes == 0
            || options.history_max_bytes > self.outbound_queue_bytes / 2
        {
            return Err(bad(format!(
                "history_max_bytes {} must be positive and at most half of outbound_queue_bytes ({})",
                options.history_max_bytes, self.outbound_queue_bytes
            )));
        }
        if options.history_ttl_ms == 0 || options.history_meta_ttl_ms < options.history_ttl_ms {
            return Err(bad(
                "history_ttl_ms must be positive and history_meta_ttl_ms at least as long".into(),
            ));
        }
        Ok(())
    }

    /// The limits announced to clients in `hub:connected`.
    pub fn limits_info(&self) -> LimitsInfo {
        LimitsInfo {
            max_message_bytes: self.max_message_bytes,
            rate_limit_per_sec: self.rate_limit_per_sec,
            rate_limit_burst: self.rate_limit_burst,
            max_topics_per_session: self.max_topics_per_session,
            max_subscribers_per_topic: self.max_subscribers_per_topic,
            broadcast_max_recipients: self.broadcast_max_recipients,
            outbound_queue_frames: self.outbound_queue_frames,
            outbound_queue_bytes: self.outbound_queue_bytes,
        }
    }

    /// `heartbeat_timeout_ms` as a duration.
    pub fn heartbeat_timeout(&self) -> Duration {
        Duration::from_millis(self.heartbeat_timeout_ms)
    }

    /// `registration_ttl_ms` as a duration.
    pub fn registration_ttl(&self) -> Duration {
        Duration::from_millis(self.registration_ttl_ms)
    }

    /// `offline_grace_ms` as a duration.
    pub fn offline_grace(&self) -> Duration {
        Duration::from_millis(self.offline_grace_ms)
    }

    /// `connect_timeout_ms` as a duration.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    /// `close_timeout_ms` as a duration.
    pub fn close_timeout(&self) -> Duration {
        Duration::from_millis(self.close_timeout_ms)
    }
}

/// When stored messages are forced to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// An fsync per group commit, before the senders are answered: an
    /// answered message survives `kill -9` and power loss.
    #[default]
    Batch,
    /// An fsync every `fsync_interval_ms`: answered messages of the last
    /// interval may be lost to `kill -9` or power loss.
    Interval,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_docs() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.max_message_bytes, 65536);
        assert_eq!(c.rate_limit_per_sec, 10);
        assert_eq!(c.broadcast_max_recipients, 100);
        assert_eq!(c.max_registered, 50_000);
    }

    #[test]
    fn zero_timeouts_are_rejected() {
        let c = Config {
            heartbeat_timeout_ms: 0,
            ..Config::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(
            e,
            ConfigError::Zero {
                field: "heartbeat_timeout_ms"
            }
        );
        assert_eq!(e.field(), "heartbeat_timeout_ms");
    }
}
