//! The presence frames the server sends: answers to `hub:presence`,
//! `hub:presence_stats`, `hub:watch` and `hub:unwatch`, and the events a
//! topic's members (`hub:join`, `hub:leave`) and a watched address
//! (`hub:online`, `hub:offline`) cause.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::server::EchoedId;

/// Most members one `hub:presence` answer lists, and the default.
pub const PRESENCE_PAGE_MAX: usize = 1000;
/// Members a `hub:presence` answer lists when the request names no `limit`.
pub const PRESENCE_PAGE_DEFAULT: usize = 100;
/// Bytes of members one `hub:presence` answer holds at most: a page stops
/// early (with `next`) rather than grow past it.
pub const PRESENCE_PAGE_MAX_BYTES: usize = 64 * 1024;

/// One member of a topic: a subscribed address.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member<'a> {
    /// The member's address.
    pub address: Cow<'a, str>,
    /// What its token's `info` claim says about it, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Cow<'a, RawValue>>,
}

/// Answer to `hub:presence`: one page of members, in address order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PresenceAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The topic.
    pub topic: Cow<'a, str>,
    /// Members after the request's `after`, at most its `limit`.
    pub members: Vec<Member<'a>>,
    /// When more follow: the `after` that asks for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Cow<'a, str>>,
}

/// Answer to `hub:presence_stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceStatsAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The topic.
    pub topic: Cow<'a, str>,
    /// How many addresses are members (one session per address).
    pub members: usize,
}

/// Answer to `hub:watch` and `hub:unwatch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The watched address.
    pub address: Cow<'a, str>,
    /// `hub:watch_ack`: whether the address is online now; every change
    /// after it comes as `hub:online` / `hub:offline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

/// `hub:join` and `hub:leave`: a member came to or left a topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberEvent<'a> {
    /// The topic.
    pub topic: Cow<'a, str>,
    /// The member's address.
    pub address: Cow<'a, str>,
    /// `hub:join`: its token's `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<Cow<'a, RawValue>>,
}

/// `hub:online` and `hub:offline`: a watched address came or went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressEvent<'a> {
    /// The address.
    pub address: Cow<'a, str>,
}
