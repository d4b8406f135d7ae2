//! What the server sends: [`ServerFrame`], one JSON object with a `"type"`
//! field per frame. The server builds frames borrowing what it has (and
//! encodes a fan-out frame once); hub-client decodes the same types, owned,
//! with [`ServerFrame::decode`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::client::FrameId;
use super::codes::ErrorCode;
use super::presence::{AddressEvent, MemberEvent, PresenceAck, PresenceStatsAck, WatchAck};

/// The protocol version announced in `hub:connected`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The request id echoed in an answer.
pub type EchoedId<'a> = Option<Cow<'a, FrameId>>;

/// The limits in force for a session, announced in `hub:connected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsInfo {
    /// Largest accepted text frame, in bytes.
    pub max_message_bytes: usize,
    /// Sustained frames per second (0: no limit).
    pub rate_limit_per_sec: u32,
    /// Frames allowed in a burst above the sustained rate.
    pub rate_limit_burst: u32,
    /// Subscriptions one session may hold.
    pub max_topics_per_session: usize,
    /// Subscribers one topic may hold.
    pub max_subscribers_per_topic: usize,
    /// Largest recipient list of a broadcast.
    pub broadcast_max_recipients: usize,
    /// Frames the server queues for this session before it is a slow consumer.
    pub outbound_queue_frames: usize,
    /// Bytes the server queues for this session before it is a slow consumer
    /// (0 from servers older than this field).
    #[serde(default)]
    pub outbound_queue_bytes: usize,
}

/// What happened to a direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Accepted into the recipient's queue (and, for a stored message,
    /// stored first). Not a claim that the recipient read it.
    Accepted,
    /// Stored in the recipient's inbox; the recipient is not connected (or
    /// has not taken the messages before it) and gets it when it does.
    Queued,
    /// Not queued; `reason` says why.
    Rejected,
}

/// Answer to `hub:connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connected<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// This session's id (also in the server's logs).
    pub session_id: Cow<'a, str>,
    /// The registered address.
    pub address: Cow<'a, str>,
    /// Protocol version, currently 1.
    pub protocol_version: u32,
    /// How often the client should send `hub:ping`.
    pub heartbeat_interval_ms: u64,
    /// Silence after which the server closes the session.
    pub heartbeat_timeout_ms: u64,
    /// The limits in force.
    pub limits: Cow<'a, LimitsInfo>,
    /// The optional features the server agreed to (of those asked for).
    #[serde(default)]
    pub features: Vec<Cow<'a, str>>,
}

/// Answer to `hub:send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The recipient address.
    pub to: Cow<'a, str>,
    /// `accepted` (in the recipient's queue) or `rejected`.
    pub status: DeliveryStatus,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ErrorCode>,
}

/// Answer to `hub:subscribe` and `hub:unsubscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The topic.
    pub topic: Cow<'a, str>,
    /// For a topic with history: its epoch. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Cow<'a, str>>,
    /// For a topic with history: the offset of its last publication when the
    /// subscription began (publications after it follow as messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Answer to `since`: `true` when every publication after that position
    /// was replayed (before this ack's later messages, in order), `false`
    /// when part of them is no longer in history (nothing was replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
}

impl<'a> TopicAck<'a> {
    /// An ack of `topic` with no stream position.
    pub fn plain(id: EchoedId<'a>, topic: Cow<'a, str>) -> Self {
        Self {
            id,
            topic,
            epoch: None,
            offset: None,
            recovered: None,
        }
    }
}

/// `hub:unsubscribed`: the hub ended one of the session's subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribed<'a> {
    /// The topic.
    pub topic: Cow<'a, str>,
    /// Why: `token_expired` (its subscription token ran out unrefreshed),
    /// `server` (the server API, or the application, ended it).
    pub reason: Cow<'a, str>,
}

/// Answer to `hub:publish`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The topic.
    pub topic: Cow<'a, str>,
    /// Subscribers whose queue accepted the message.
    pub recipients: usize,
    /// For a topic with history: the publication's offset (it is stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// Answer to `hub:broadcast`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// Recipients whose queue accepted the message.
    pub recipients: usize,
    /// Listed addresses with no live session (or whose session is closing).
    pub not_found: Vec<Cow<'a, str>>,
}

/// A message for this session: direct (no topic) or from a topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message<'a> {
    /// The topic, absent for direct messages and broadcasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Cow<'a, str>>,
    /// The sender's address.
    pub from: Cow<'a, str>,
    /// The sender's request id, when this direct message is a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Cow<'a, str>>,
    /// The request this direct message answers, when it is a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<Cow<'a, str>>,
    /// A stored direct message's number in the recipient's inbox (1, 2, ...);
    /// acknowledge it with `hub:ack`. Absent on messages that are not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// A publication's offset in its topic's history (1, 2, ...; gaps are
    /// possible). Absent for topics without history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The payload, verbatim.
    pub payload: Cow<'a, RawValue>,
}

/// What a receipt reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// The recipient acknowledged the message.
    Delivered,
    /// The message's TTL passed before the recipient acknowledged it.
    Expired,
}

/// `hub:receipt`: what became of a stored message sent with `receipt: true`.
/// Itself stored for the sender (it has a `seq`; acknowledge it like a
/// message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt<'a> {
    /// The `id` of the `hub:send` it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The `msg_id` of that send, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<Cow<'a, str>>,
    /// The recipient.
    pub to: Cow<'a, str>,
    /// `delivered` or `expired`.
    pub status: ReceiptStatus,
    /// Its number in the sender's inbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// An answer that only echoes the request id (`hub:pong`, `hub:disconnect_ack`,
/// `hub:refresh_ack`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
}

/// The server is closing this session; the close frame follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disconnect<'a> {
    /// The close code that follows.
    pub code: u16,
    /// Its stable reason string.
    pub reason: Cow<'a, str>,
    /// Whether the client should reconnect automatically.
    pub reconnect: bool,
    /// Advised delay before reconnecting, when reconnecting is advised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// What to do next.
    pub hint: Cow<'a, str>,
}

/// The frame was refused by the rate limit; the session stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimited<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// `rate_limited`.
    pub code: ErrorCode,
    /// When the next frame will be accepted.
    pub retry_after_ms: u64,
    /// What to do next.
    pub hint: Cow<'a, str>,
}

/// A request failed; the session stays open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Error<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// Stable code.
    pub code: ErrorCode,
    /// Human message.
    pub message: Cow<'a, str>,
    /// How to fix it.
    pub hint: Cow<'a, str>,
    /// Whether the same request may succeed later unchanged.
    pub temporary: bool,
    /// With `refused`: the application's own code for the refusal, as its
    /// backend gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'a, str>>,
}

/// The answer to `hub:rpc`: what the application's backend answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RpcAck<'a> {
    /// Echoed request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: EchoedId<'a>,
    /// The backend's answer, any JSON (`null` when it gave none).
    pub data: Cow<'a, RawValue>,
}

/// A frame the server sends. Serialized with `"type"` as the tag.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum ServerFrame<'a> {
    /// `hub:connected`, the answer to `hub:connect`.
    #[serde(rename = "hub:connected")]
    Connected(Connected<'a>),
    /// `hub:delivery_ack`, the answer to `hub:send`.
    #[serde(rename = "hub:delivery_ack")]
    DeliveryAck(DeliveryAck<'a>),
    /// `hub:subscribe_ack`.
    #[serde(rename = "hub:subscribe_ack")]
    SubscribeAck(TopicAck<'a>),
    /// `hub:unsubscribe_ack`.
    #[serde(rename = "hub:unsubscribe_ack")]
    UnsubscribeAck(TopicAck<'a>),
    /// `hub:publish_ack`.
    #[serde(rename = "hub:publish_ack")]
    PublishAck(PublishAck<'a>),
    /// `hub:broadcast_ack`.
    #[serde(rename = "hub:broadcast_ack")]
    BroadcastAck(BroadcastAck<'a>),
    /// `hub:message`.
    #[serde(rename = "hub:message")]
    Message(Message<'a>),
    /// `hub:pong`, the answer to `hub:ping`.
    #[serde(rename = "hub:pong")]
    Pong(Echo<'a>),
    /// `hub:disconnect_ack`, sent before the close frame.
    #[serde(rename = "hub:disconnect_ack")]
    DisconnectAck(Echo<'a>),
    /// `hub:disconnect`: the server is closing this session.
    #[serde(rename = "hub:disconnect")]
    Disconnect(Disconnect<'a>),
    /// `hub:rate_limited`.
    #[serde(rename = "hub:rate_limited")]
    RateLimited(RateLimited<'a>),
    /// `hub:error`.
    #[serde(rename = "hub:error")]
    Error(Error<'a>),
    /// `hub:refresh`: the server asks for a fresh token (reserved: servers
    /// that announce `token_refresh`).
    #[serde(rename = "hub:refresh")]
    Refresh(Echo<'a>),
    /// `hub:refresh_ack`: the fresh token is in force (reserved, as above).
    #[serde(rename = "hub:refresh_ack")]
    RefreshAck(Echo<'a>),
    /// `hub:receipt`: a stored message was acknowledged, or expired.
    #[serde(rename = "hub:receipt")]
    Receipt(Receipt<'a>),
    /// `hub:presence_ack`: a page of a topic's members.
    #[serde(rename = "hub:presence_ack")]
    PresenceAck(PresenceAck<'a>),
    /// `hub:presence_stats_ack`: how many members a topic has.
    #[serde(rename = "hub:presence_stats_ack")]
    PresenceStatsAck(PresenceStatsAck<'a>),
    /// `hub:watch_ack`: the address is watched; whether it is online.
    #[serde(rename = "hub:watch_ack")]
    WatchAck(WatchAck<'a>),
    /// `hub:unwatch_ack`.
    #[serde(rename = "hub:unwatch_ack")]
    UnwatchAck(WatchAck<'a>),
    /// `hub:join`: a member came to a topic (namespaces with `join_leave`).
    #[serde(rename = "hub:join")]
    Join(MemberEvent<'a>),
    /// `hub:leave`: a member left a topic.
    #[serde(rename = "hub:leave")]
    Leave(MemberEvent<'a>),
    /// `hub:online`: a watched address came online.
    #[serde(rename = "hub:online")]
    Online(AddressEvent<'a>),
    /// `hub:offline`: a watched address went offline.
    #[serde(rename = "hub:offline")]
    Offline(AddressEvent<'a>),
    /// `hub:sub_refresh`: the server asks for a fresh subscription token
    /// for `topic`.
    #[serde(rename = "hub:sub_refresh")]
    SubRefresh(TopicAck<'a>),
    /// `hub:sub_refresh_ack`: the fresh subscription token is in force.
    #[serde(rename = "hub:sub_refresh_ack")]
    SubRefreshAck(TopicAck<'a>),
    /// `hub:unsubscribed`: the hub ended a subscription.
    #[serde(rename = "hub:unsubscribed")]
    Unsubscribed(Unsubscribed<'a>),
    /// `hub:subscribed`: the server subscribed this session to a topic (its
    /// token's `channels`, or the server API).
    #[serde(rename = "hub:subscribed")]
    Subscribed(TopicAck<'a>),
    /// `hub:rpc_ack`: the answer to `hub:rpc`.
    #[serde(rename = "hub:rpc_ack")]
    RpcAck(RpcAck<'a>),
}

impl ServerFrame<'_> {
    /// Serializes the frame to JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every field is a string, number,
        // bool, sequence or already-valid raw JSON, and map keys are all strings.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"type":"hub:error","code":"internal","message":"encode failed","hint":"retry","temporary":true}"#
                .to_owned()
        })
    }

    /// The echoed request id, for answers.
    pub fn id(&self) -> Option<&FrameId> {
        let id = match self {
            Self::Connected(f) => &f.id,
            Self::DeliveryAck(f) => &f.id,
            Self::SubscribeAck(f) | Self::UnsubscribeAck(f) | Self::SubRefreshAck(f) => &f.id,
            Self::PublishAck(f) => &f.id,
            Self::BroadcastAck(f) => &f.id,
            Self::Pong(f) | Self::DisconnectAck(f) | Self::Refresh(f) | Self::RefreshAck(f) => {
                &f.id
            }
            Self::RateLimited(f) => &f.id,
            Self::Error(f) => &f.id,
            Self::RpcAck(f) => &f.id,
            Self::PresenceAck(f) => &f.id,
            Self::PresenceStatsAck(f) => &f.id,
            Self::WatchAck(f) | Self::UnwatchAck(f) => &f.id,
            // A receipt names the send it is for, but answers no call.
            Self::Message(_)
            | Self::Disconnect(_)
            | Self::Receipt(_)
            | Self::Join(_)
            | Self::Leave(_)
            | Self::Online(_)
            | Self::Offline(_)
            | Self::SubRefresh(_)
            | Self::Subscribed(_)
            | Self::Unsubscribed(_) => return None,
        };
        id.as_deref()
    }
}

#[path = "server_decode.rs"]
mod decode;
pub use decode::ServerDecodeError;

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
