//! Subscription tokens: the right to one topic, granted by the application
//! at the moment a client joins it (a private room), with its own expiry
//! and refresh — beside the connection's grants, not in them.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::SystemTime;

use super::jwt::{refuse, Verified};
use super::AuthRejection;
use crate::permissions::Right;

/// A subscription token to check: `hub:subscribe`'s `token`, or
/// `hub:sub_refresh`'s.
#[derive(Debug, Clone)]
pub struct SubscriptionRequest {
    /// The session's user (its address without the device): the token's
    /// subject must be it.
    pub user: String,
    /// The topic the token must be for.
    pub topic: String,
    /// The token.
    pub token: String,
    /// The peer's socket address, when known.
    pub peer: Option<SocketAddr>,
}

/// An accepted subscription token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicGrant {
    /// When it runs out: the session is asked for a fresh one ahead of it
    /// (`hub:sub_refresh`) and loses the topic at it. `None`: never.
    pub valid_until: Option<SystemTime>,
    /// The rights it grants on the topic (`subscribe`, and any of
    /// `publish`, `presence`, `history`).
    pub rights: Vec<Right>,
}

impl TopicGrant {
    /// A grant of `rights` (topic rights; `subscribe` is added) until
    /// `valid_until`.
    pub fn new(valid_until: Option<SystemTime>, rights: &[Right]) -> Self {
        let mut all = vec![Right::Subscribe];
        all.extend(
            rights
                .iter()
                .filter(|r| r.on_topics() && **r != Right::Subscribe),
        );
        Self {
            valid_until,
            rights: all,
        }
    }
}

/// The future [`Authenticator::authorize_subscription`](super::Authenticator::authorize_subscription) returns.
pub type TopicGrantFuture = Pin<Box<dyn Future<Output = Result<TopicGrant, AuthRejection>> + Send>>;

/// The grant of a verified subscription token, if it is for `request`'s
/// user and topic.
pub(super) fn bind_topic(
    verified: Verified,
    request: &SubscriptionRequest,
) -> Result<TopicGrant, AuthRejection> {
    let Some(topic) = &verified.topic else {
        return Err(refuse(
            "not a subscription token: it needs a topic claim naming the topic",
        ));
    };
    if *topic != request.topic {
        return Err(refuse(&format!(
            "the subscription token is for topic {topic:?}, not {:?}",
            request.topic
        )));
    }
    if verified.sub != request.user {
        return Err(refuse(
            "the subscription token's subject (sub) must be the connection's user",
        ));
    }
    Ok(TopicGrant::new(
        Some(verified.valid_until),
        &verified.rights,
    ))
}

/// A token's `rights` claim: topic rights by name.
pub(super) fn topic_rights(names: &[String]) -> Result<Vec<Right>, AuthRejection> {
    names
        .iter()
        .map(|name| match Right::from_name(name) {
            Some(right) if right.on_topics() => Ok(right),
            _ => Err(refuse(&format!(
                "the token's rights claim names {name:?}: a topic's rights are subscribe, publish, presence and history"
            ))),
        })
        .collect()
}
