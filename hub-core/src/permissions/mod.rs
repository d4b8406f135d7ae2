//! Who may do what: server-side namespace options from the config, and the
//! [`Grants`] an identity carries (from its token). A client's subscribe,
//! publish, send and broadcast each pass [`Permissions`] first; a denial is
//! `forbidden`, with the missing right in the hint, and the session goes on.
//!
//! A topic's namespace is the part of its name before the first `:`
//! (`chat:lobby` is in `chat`); a topic without `:` is in `default`. A
//! namespace not in the config is refused (`unknown_namespace`), so a typo
//! never falls back to another namespace's rules.
//!
//! For each right a namespace says who may use it ([`Policy`]): everyone
//! connected, those whose grants allow it (the default), or nobody (only the
//! embedding application and the server API). Direct sends and broadcasts
//! have the same choice in [`DirectOptions`]. The application's own calls
//! through `Hub` are not checked: it is the server.

pub mod grants;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use grants::{Grants, GrantsClaim, GrantsError, Right};

use crate::HubError;

/// The namespace of topics without a `:`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Who may use one right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Every connected session.
    Everyone,
    /// Sessions whose grants include the right on the name. The default.
    #[default]
    Granted,
    /// No client; only the embedding application and the server API.
    Nobody,
    /// The application's backend decides each request (subscribe and
    /// publish only; see the backend hook): a subscribe is asked of it
    /// unless it carries a subscription token, every publish is.
    Proxy,
}

/// One namespace's options (`[namespaces.<name>]` in the config). An
/// unknown option is refused by name when the config is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceOptions {
    /// Who may subscribe. Default `granted`.
    pub subscribe: Policy,
    /// Who may publish. Default `granted`.
    pub publish: Policy,
    /// Who may see presence. Default `granted`.
    pub presence: Policy,
    /// Who may read history. Default `granted`.
    pub history: Policy,
    /// Whether its topics keep a member list (address and token `info`
    /// of each subscriber) for `hub:presence` and `hub:presence_stats`.
    /// Default `false`.
    pub track_presence: bool,
    /// Whether subscribers with the `presence` right hear `hub:join` and
    /// `hub:leave` as members come and go. Needs `track_presence`.
    /// Default `false`.
    pub join_leave: bool,
    /// Subscribers one topic of the namespace may hold. 0:
    /// `max_subscribers_per_topic`. Default 0.
    pub max_subscribers: usize,
    /// Largest payload a client may publish here, in bytes (the frame is
    /// bounded by `max_message_bytes` anyway). 0: no tighter bound. Default 0.
    pub max_payload_bytes: usize,
    /// Publications each topic keeps for recovery (`since` on subscribe).
    /// 0: no history (publications get no offset). At most half of
    /// `outbound_queue_frames`, since a recovery replays at once. Default 0.
    pub history_size: usize,
    /// Bytes of publications each topic keeps; the oldest go first. At most
    /// half of `outbound_queue_bytes`. Default 262144 (256 KiB).
    pub history_max_bytes: usize,
    /// How long a publication stays in history, in ms. Default 300000 (5 min).
    pub history_ttl_ms: u64,
    /// How long a topic's position (epoch, last offset) is kept after its
    /// last publication or subscriber, in ms, so a client of a quiet topic
    /// recovers with nothing missed instead of being told history is gone.
    /// At least `history_ttl_ms`. Default 86400000 (24 h).
    pub history_meta_ttl_ms: u64,
}

/// A namespace's history options, for its topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Publications kept.
    pub size: usize,
    /// Bytes kept.
    pub max_bytes: usize,
    /// Age limit of a kept publication, in ms.
    pub ttl_ms: u64,
    /// How long the position outlives the last activity, in ms.
    pub meta_ttl_ms: u64,
}

impl Default for NamespaceOptions {
    fn default() -> Self {
        Self {
            subscribe: Policy::Granted,
            publish: Policy::Granted,
            presence: Policy::Granted,
            history: Policy::Granted,
            track_presence: false,
            join_leave: false,
            max_subscribers: 0,
            max_payload_bytes: 0,
            history_size: 0,
            history_max_bytes: 256 * 1024,
            history_ttl_ms: 300_000,
            history_meta_ttl_ms: 86_400_000,
        }
    }
}

impl NamespaceOptions {
    /// Its history options; `None` when its topics keep no history.
    pub fn history(&self) -> Option<HistoryOptions> {
        (self.history_size > 0).then_some(HistoryOptions {
            size: self.history_size,
            max_bytes: self.history_max_bytes,
            ttl_ms: self.history_ttl_ms,
            meta_ttl_ms: self.history_meta_ttl_ms.max(self.history_ttl_ms),
        })
    }

    /// The policy for `right` here.
    pub fn policy(&self, right: Right) -> Policy {
        match right {
            Right::Subscribe => self.subscribe,
            Right::Publish => self.publish,
            Right::Presence => self.presence,
            Right::History => self.history,
            Right::Send | Right::Broadcast | Right::Watch => Policy::Nobody,
        }
    }
}

/// Who may send to addresses (`[direct]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectOptions {
    /// Who may `hub:send`. Default `granted`.
    pub send: Policy,
    /// Who may `hub:broadcast`. Default `granted`.
    pub broadcast: Policy,
    /// Who may `hub:watch` an address (hear it come online and go
    /// offline). Default `granted`.
    pub watch: Policy,
}

impl Default for DirectOptions {
    fn default() -> Self {
        Self {
            send: Policy::Granted,
            broadcast: Policy::Granted,
            watch: Policy::Granted,
        }
    }
}

/// Why a request was refused; becomes [`HubError::Forbidden`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The policy is `granted` and the grants lack the right.
    NotGranted,
    /// The policy is `nobody`.
    NoClient,
    /// The policy is `proxy` and the application's backend has not
    /// granted it.
    NotAsked,
}

/// The namespace options and direct-send policy, ready to check against.
#[derive(Debug, Clone)]
pub struct Permissions {
    namespaces: HashMap<Box<str>, NamespaceOptions>,
    direct: DirectOptions,
}

impl Permissions {
    /// From the config's `namespaces` and `direct`. `default` is added
    /// with default options when the config has no such entry.
    pub fn new(namespaces: &BTreeMap<String, NamespaceOptions>, direct: &DirectOptions) -> Self {
        let mut map: HashMap<Box<str>, NamespaceOptions> = namespaces
            .iter()
            .map(|(name, options)| (name.as_str().into(), options.clone()))
            .collect();
        map.entry(DEFAULT_NAMESPACE.into()).or_default();
        Self {
            namespaces: map,
            direct: direct.clone(),
        }
    }

    /// The namespace `topic` is in.
    pub fn namespace_of(topic: &str) -> &str {
        topic
            .split_once(':')
            .map_or(DEFAULT_NAMESPACE, |(namespace, _)| namespace)
    }

    /// The options of `topic`'s namespace, unchecked (for the application's
    /// own calls); `None` for an unknown namespace.
    pub fn options_of(&self, topic: &str) -> Option<&NamespaceOptions> {
        self.namespaces.get(Self::namespace_of(topic))
    }

    /// Checks `right` on `topic` for `grants`; returns the topic's
    /// namespace options.
    ///
    /// # Errors
    /// `UnknownNamespace`, or `Forbidden` with the missing right.
    pub fn topic(
        &self,
        grants: &Grants,
        topic: &str,
        right: Right,
    ) -> Result<&NamespaceOptions, HubError> {
        self.topic_or(grants, topic, right, false)
    }

    /// As [`Permissions::topic`], with `by_token`: the right is granted
    /// beside `grants` (by the topic's subscription token). A namespace's
    /// `nobody` still refuses it.
    ///
    /// # Errors
    /// As [`Permissions::topic`].
    pub fn topic_or(
        &self,
        grants: &Grants,
        topic: &str,
        right: Right,
        by_token: bool,
    ) -> Result<&NamespaceOptions, HubError> {
        let namespace = Self::namespace_of(topic);
        let options = self
            .namespaces
            .get(namespace)
            .ok_or_else(|| HubError::UnknownNamespace(namespace.to_owned()))?;
        let policy = options.policy(right);
        if policy == Policy::Proxy {
            // The backend's grant (or a subscription token's), never the
            // connection's.
            return check(policy, || by_token, right, topic).map(|()| options);
        }
        let granted = || by_token || grants.allows_topic(topic, right);
        check(policy, granted, right, topic)?;
        Ok(options)
    }

    /// Checks `right` (`send`, `broadcast` or `watch`) on `address` for `grants`.
    ///
    /// # Errors
    /// `Forbidden` with the missing right.
    pub fn address(&self, grants: &Grants, address: &str, right: Right) -> Result<(), HubError> {
        let granted = || grants.allows_address(address, right);
        check(self.direct_policy(right), granted, right, address)
    }

    /// Checks `right` on every address (a broadcast to `*`).
    ///
    /// # Errors
    /// `Forbidden` with the missing right.
    pub fn every_address(&self, grants: &Grants, right: Right) -> Result<(), HubError> {
        let granted = || grants.allows_every_address(right);
        check(self.direct_policy(right), granted, right, "*")
    }

    fn direct_policy(&self, right: Right) -> Policy {
        match right {
            Right::Send => self.direct.send,
            Right::Broadcast => self.direct.broadcast,
            Right::Watch => self.direct.watch,
            _ => Policy::Nobody,
        }
    }
}

fn check(
    policy: Policy,
    granted: impl FnOnce() -> bool,
    right: Right,
    target: &str,
) -> Result<(), HubError> {
    let refusal = match policy {
        Policy::Everyone => return Ok(()),
        Policy::Nobody => Refusal::NoClient,
        _ if granted() => return Ok(()),
        Policy::Proxy => Refusal::NotAsked,
        Policy::Granted => Refusal::NotGranted,
    };
    Err(HubError::Forbidden {
        right,
        target: target.to_owned(),
        refusal,
    })
}

/// Checks a namespace name from the config: not empty, no `:` or `*`.
pub(crate) fn valid_namespace_name(name: &str) -> bool {
    !name.is_empty() && !name.contains([':', '*']) && !name.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permissions(toml_like: &[(&str, NamespaceOptions)], direct: DirectOptions) -> Permissions {
        let map = toml_like
            .iter()
            .map(|(n, o)| (n.to_string(), o.clone()))
            .collect();
        Permissions::new(&map, &direct)
    }

    #[test]
    fn namespaces_come_from_the_prefix() {
        assert_eq!(Permissions::namespace_of("chat:lobby"), "chat");
        assert_eq!(Permissions::namespace_of("chat:a:b"), "chat");
        assert_eq!(Permissions::namespace_of("lobby"), "default");
    }

    #[test]
    fn policies_decide_and_grants_fill_in() {
        let public = NamespaceOptions {
            subscribe: Policy::Everyone,
            publish: Policy::Nobody,
            ..NamespaceOptions::default()
        };
        let p = permissions(&[("news", public)], DirectOptions::default());
        let none = Grants::none();
        let all = Grants::everything();
        assert!(p.topic(&none, "news:today", Right::Subscribe).is_ok());
        assert!(matches!(
            p.topic(&all, "news:today", Right::Publish),
            Err(HubError::Forbidden {
                refusal: Refusal::NoClient,
                ..
            })
        ));
        assert!(matches!(
            p.topic(&none, "lobby", Right::Publish),
            Err(HubError::Forbidden {
                refusal: Refusal::NotGranted,
                right: Right::Publish,
                ..
            })
        ));
        assert!(p.topic(&all, "lobby", Right::Publish).is_ok());
        assert_eq!(
            p.topic(&all, "typo:x", Right::Subscribe).unwrap_err(),
            HubError::UnknownNamespace("typo".into())
        );
        assert!(p.address(&none, "bob", Right::Send).is_err());
        assert!(p.address(&all, "bob", Right::Send).is_ok());
        assert!(p.every_address(&none, Right::Broadcast).is_err());
        let open = DirectOptions {
            send: Policy::Everyone,
            broadcast: Policy::Nobody,
            watch: Policy::Nobody,
        };
        let p = permissions(&[], open);
        assert!(p.address(&none, "bob", Right::Send).is_ok());
        assert!(p.every_address(&all, Right::Broadcast).is_err());
    }

    #[test]
    fn namespace_names_are_checked() {
        assert!(valid_namespace_name("chat"));
        assert!(!valid_namespace_name(""));
        assert!(!valid_namespace_name("a:b"));
        assert!(!valid_namespace_name("a*"));
    }
}
