//! [`Grants`]: what one identity may do, in the spirit of Ably's
//! capabilities. A JWT carries them in its `grants` claim:
//!
//! ```json
//! {"grants": {
//!     "topics":    {"chat:*": ["subscribe", "publish"], "news": ["subscribe"]},
//!     "addresses": {"support-*": ["send"], "*": ["broadcast"]}
//! }}
//! ```
//!
//! A pattern is an exact name, a prefix followed by one trailing `*`
//! (`chat:*` matches every topic of namespace `chat`), or `*` alone (every
//! name). Topic rights are `subscribe`, `publish`, `presence` and `history`;
//! address rights are `send`, `broadcast` and `watch` (see the address
//! come online and go offline: `hub:watch`). A broadcast to every address
//! (`"to": "*"`) needs `broadcast` on the pattern `*` itself.
//!
//! A check walks the patterns of one kind: a token holds a handful, and at
//! most [`MAX_PATTERNS`] per kind are accepted.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Most patterns per kind (topics, addresses) one identity may carry.
pub const MAX_PATTERNS: usize = 64;

/// A right on a topic or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// `hub:subscribe` to a topic.
    Subscribe,
    /// `hub:publish` to a topic.
    Publish,
    /// See who is subscribed to a topic (presence).
    Presence,
    /// Read a topic's history.
    History,
    /// `hub:send` to an address.
    Send,
    /// `hub:broadcast` to an address.
    Broadcast,
    /// `hub:watch` an address: hear when it comes online and goes offline.
    Watch,
}

impl Right {
    /// Every right, in the order of the docs.
    pub const ALL: [Right; 7] = [
        Right::Subscribe,
        Right::Publish,
        Right::Presence,
        Right::History,
        Right::Send,
        Right::Broadcast,
        Right::Watch,
    ];

    /// The name used in grants, config and hints.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Publish => "publish",
            Self::Presence => "presence",
            Self::History => "history",
            Self::Send => "send",
            Self::Broadcast => "broadcast",
            Self::Watch => "watch",
        }
    }

    /// Whether the right is on topics (else on addresses).
    pub const fn on_topics(self) -> bool {
        matches!(
            self,
            Self::Subscribe | Self::Publish | Self::Presence | Self::History
        )
    }

    /// The right named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Right {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A topic or address pattern of a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: every name.
    Any,
    /// `prefix*`.
    Prefix(Box<str>),
    /// A name.
    Exact(Box<str>),
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, GrantsError> {
        let (head, wild) = match text.strip_suffix('*') {
            Some(head) => (head, true),
            None => (text, false),
        };
        if text.is_empty() || head.contains('*') {
            return Err(GrantsError::BadPattern(text.to_owned()));
        }
        Ok(match (head, wild) {
            ("", true) => Self::Any,
            (head, true) => Self::Prefix(head.into()),
            (name, false) => Self::Exact(name.into()),
        })
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Prefix(prefix) => name.starts_with(&**prefix),
            Self::Exact(exact) => **exact == *name,
        }
    }
}

/// A grant that cannot be used; the token carrying it is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantsError {
    /// A pattern is empty or has a `*` other than one trailing one.
    #[error("grant pattern `{0}` is not a name, `prefix*` or `*`")]
    BadPattern(String),
    /// An address right on a topic pattern, or a topic right on an address one.
    #[error("right `{right}` does not apply to {kind}")]
    MisplacedRight {
        /// The right.
        right: Right,
        /// `topics` or `addresses`.
        kind: &'static str,
    },
    /// More than [`MAX_PATTERNS`] patterns of one kind.
    #[error("more than {MAX_PATTERNS} {0} patterns")]
    TooMany(&'static str),
}

/// What one identity may do. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    /// Everything, everywhere: identities of an open hub and of an
    /// authenticator that trusts its clients fully.
    everything: bool,
    topics: Vec<(Pattern, u8)>,
    addresses: Vec<(Pattern, u8)>,
}

/// The `grants` claim as written in a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrantsClaim {
    /// Topic pattern → rights.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub topics: BTreeMap<String, Vec<Right>>,
    /// Address pattern → rights.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, Vec<Right>>,
}

impl Grants {
    /// Grants nothing: such an identity may connect and ping, and whatever
    /// namespaces open to everyone.
    pub fn none() -> Self {
        Self::default()
    }

    /// Grants every right on every topic and address.
    pub fn everything() -> Self {
        Self {
            everything: true,
            ..Self::default()
        }
    }

    /// Grants from a token's claim.
    ///
    /// # Errors
    /// A bad pattern, a right of the wrong kind, or too many patterns.
    pub fn from_claim(claim: &GrantsClaim) -> Result<Self, GrantsError> {
        Ok(Self {
            everything: false,
            topics: compile(&claim.topics, true)?,
            addresses: compile(&claim.addresses, false)?,
        })
    }

    /// Whether `right` is granted on topic `topic`.
    pub fn allows_topic(&self, topic: &str, right: Right) -> bool {
        self.everything || allows(&self.topics, topic, right)
    }

    /// Whether `right` is granted on address `address`.
    pub fn allows_address(&self, address: &str, right: Right) -> bool {
        self.everything || allows(&self.addresses, address, right)
    }

    /// Whether `right` is granted on every address (the pattern `*`).
    pub fn allows_every_address(&self, right: Right) -> bool {
        self.everything
            || self
                .addresses
                .iter()
                .any(|(p, bits)| *p == Pattern::Any && bits & right.bit() != 0)
    }
}

fn compile(
    claim: &BTreeMap<String, Vec<Right>>,
    topics: bool,
) -> Result<Vec<(Pattern, u8)>, GrantsError> {
    let kind = if topics { "topics" } else { "addresses" };
    if claim.len() > MAX_PATTERNS {
        return Err(GrantsError::TooMany(kind));
    }
    claim
        .iter()
        .map(|(pattern, rights)| {
            let mut bits = 0;
            for right in rights {
                if right.on_topics() != topics {
                    return Err(GrantsError::MisplacedRight {
                        right: *right,
                        kind,
                    });
                }
                bits |= right.bit();
            }
            Ok((Pattern::parse(pattern)?, bits))
        })
        .collect()
}

fn allows(grants: &[(Pattern, u8)], name: &str, right: Right) -> bool {
    grants
        .iter()
        .any(|(pattern, bits)| bits & right.bit() != 0 && pattern.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(json: &str) -> Result<Grants, GrantsError> {
        Grants::from_claim(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn patterns_match_exact_prefix_and_any() {
        let g = grants(
            r#"{"topics": {"chat:*": ["subscribe", "publish"], "news": ["subscribe"]},
                "addresses": {"bot-*": ["send"], "*": ["broadcast"]}}"#,
        )
        .unwrap();
        assert!(g.allows_topic("chat:lobby", Right::Publish));
        assert!(g.allows_topic("news", Right::Subscribe));
        assert!(!g.allows_topic("news", Right::Publish));
        assert!(!g.allows_topic("news:x", Right::Subscribe));
        assert!(!g.allows_topic("chat", Right::Subscribe));
        assert!(g.allows_address("bot-1", Right::Send));
        assert!(!g.allows_address("alice", Right::Send));
        assert!(g.allows_address("alice", Right::Broadcast));
        assert!(g.allows_every_address(Right::Broadcast));
        assert!(!g.allows_every_address(Right::Send));
    }

    #[test]
    fn nothing_and_everything() {
        assert!(!Grants::none().allows_topic("t", Right::Subscribe));
        assert!(!Grants::none().allows_every_address(Right::Broadcast));
        assert!(Grants::everything().allows_address("x", Right::Send));
        assert!(Grants::everything().allows_every_address(Right::Broadcast));
    }

    #[test]
    fn bad_grants_are_refused_by_name() {
        assert_eq!(
            grants(r#"{"topics": {"a*b": ["publish"]}}"#),
            Err(GrantsError::BadPattern("a*b".into()))
        );
        assert_eq!(
            grants(r#"{"topics": {"": ["publish"]}}"#),
            Err(GrantsError::BadPattern("".into()))
        );
        assert!(matches!(
            grants(r#"{"topics": {"t": ["send"]}}"#),
            Err(GrantsError::MisplacedRight {
                right: Right::Send,
                ..
            })
        ));
        assert!(matches!(
            grants(r#"{"addresses": {"a": ["publish"]}}"#),
            Err(GrantsError::MisplacedRight {
                right: Right::Publish,
                ..
            })
        ));
        let many: BTreeMap<String, Vec<Right>> = (0..=MAX_PATTERNS)
            .map(|i| (format!("t{i}"), vec![Right::Subscribe]))
            .collect();
        let claim = GrantsClaim {
            topics: many,
            ..GrantsClaim::default()
        };
        assert_eq!(
            Grants::from_claim(&claim),
            Err(GrantsError::TooMany("topics"))
        );
        assert!(serde_json::from_str::<GrantsClaim>(r#"{"topics": {"t": ["admin"]}}"#).is_err());
        assert!(serde_json::from_str::<GrantsClaim>(r#"{"channels": {}}"#).is_err());
    }
}
