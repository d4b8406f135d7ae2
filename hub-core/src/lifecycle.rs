//! What happens in the hub that the application may want to hear of —
//! connections, users coming online and going offline, topics occupied and
//! vacated, subscriptions — told to a [`LifecycleSink`]
//! ([`HubBuilder::lifecycle`](crate::HubBuilder::lifecycle)). hub-server's
//! webhooks are one: they queue each event and post it, signed, to the
//! application's backend.
//!
//! A sink is told from the hub's actors, on their threads: it must queue
//! and return, never wait (a slow backend must not slow a client). Without
//! a sink nothing is built.

use std::sync::Arc;

/// One thing that happened, with who and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lifecycle {
    /// A session connected (`hub:connected` was sent).
    Connected {
        /// The session's id.
        client: Arc<str>,
        /// Its address.
        address: Arc<str>,
    },
    /// A connected session ended.
    Disconnected {
        /// The session's id.
        client: Arc<str>,
        /// Its address.
        address: Arc<str>,
        /// Its close code's reason (`normal`, `heartbeat_timeout`, ...),
        /// or `connection_lost` when the connection broke without one.
        reason: &'static str,
    },
    /// A user's first connection came (none was online, counting the
    /// offline grace of one that dropped).
    UserOnline {
        /// The user.
        user: Arc<str>,
    },
    /// A user's last connection went (after `offline_grace_ms` for one
    /// that dropped).
    UserOffline {
        /// The user.
        user: Arc<str>,
    },
    /// A session subscribed to a topic.
    Subscribed {
        /// The session's id.
        client: Arc<str>,
        /// Its address.
        address: Arc<str>,
        /// The topic.
        topic: Arc<str>,
        /// `client` (its `hub:subscribe`) or `server` (a server-side
        /// subscription).
        by: &'static str,
    },
    /// A session's subscription ended while it stayed connected (one that
    /// disconnects is told by `Disconnected` alone).
    Unsubscribed {
        /// The session's id.
        client: Arc<str>,
        /// Its address.
        address: Arc<str>,
        /// The topic.
        topic: Arc<str>,
        /// `client`, `server` or `token_expired`.
        reason: &'static str,
    },
    /// A topic has its first subscriber.
    Occupied {
        /// The topic.
        topic: Arc<str>,
    },
    /// A topic's last subscriber left.
    Vacated {
        /// The topic.
        topic: Arc<str>,
    },
}

impl Lifecycle {
    /// The event's name on the wire (`connected`, `user_offline`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connected { .. } => "connected",
            Self::Disconnected { .. } => "disconnected",
            Self::UserOnline { .. } => "user_online",
            Self::UserOffline { .. } => "user_offline",
            Self::Subscribed { .. } => "subscribed",
            Self::Unsubscribed { .. } => "unsubscribed",
            Self::Occupied { .. } => "occupied",
            Self::Vacated { .. } => "vacated",
        }
    }

    /// What its order is kept within: the user for a session's or a
    /// user's events, the topic for a topic's.
    pub fn key(&self) -> &str {
        match self {
            Self::Connected { address, .. }
            | Self::Disconnected { address, .. }
            | Self::Subscribed { address, .. }
            | Self::Unsubscribed { address, .. } => user_of(address),
            Self::UserOnline { user } | Self::UserOffline { user } => user,
            Self::Occupied { topic } | Self::Vacated { topic } => topic,
        }
    }
}

/// The user of an address: the part before its `/`, or all of it.
fn user_of(address: &str) -> &str {
    crate::protocol::user_of(address).unwrap_or(address)
}

/// Every event name, for configuration checks and documentation.
pub const ALL_EVENTS: &[&str] = &[
    "connected",
    "disconnected",
    "user_online",
    "user_offline",
    "subscribed",
    "unsubscribed",
    "occupied",
    "vacated",
];

/// Hears the hub's [`Lifecycle`] events (see the module docs).
pub trait LifecycleSink: Send + Sync + 'static {
    /// One event: queue it and return at once.
    fn tell(&self, event: Lifecycle);
}
