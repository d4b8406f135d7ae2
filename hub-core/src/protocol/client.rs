//! What a client sends: [`Request`] (an optional id and a [`ClientFrame`]).
//! The server decodes it (`decode.rs`); hub-client builds and serializes the
//! same types, so a field renamed here fails to compile there.

use std::borrow::Cow;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// The optional feature a client asks for in `hub:connect` `features`: several
/// frames in one WebSocket message, one JSON object per line.
pub const FEATURE_BATCH: &str = "batch";

/// The feature a server announces in `hub:connected` `features` when the
/// session's token expires: it sends `hub:refresh` ahead of that, and takes
/// a fresh token in `hub:refresh` without dropping the session.
pub const FEATURE_TOKEN_REFRESH: &str = "token_refresh";

/// Feature a client asks for in `hub:connect` when it acknowledges stored
/// direct messages (`hub:ack`): the server then keeps each one until it is
/// acked and delivers it again after a reconnect. Without it a stored
/// message counts as acknowledged once handed to the session.
pub const FEATURE_ACK: &str = "ack";

/// A client-chosen request id, echoed in the reply. A string or an unsigned integer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameId {
    /// A numeric id.
    Num(u64),
    /// A string id.
    Str(String),
}

/// Who a `hub:broadcast` goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroadcastTarget {
    /// Every registered address but the sender's (`"to": "*"`).
    All,
    /// The listed addresses.
    List(Vec<String>),
}

impl Serialize for BroadcastTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::All => s.serialize_str("*"),
            Self::List(list) => list.serialize(s),
        }
    }
}

/// Request/reply correlation carried by `hub:send` and forwarded verbatim in
/// `hub:message`: a request sets `correlation_id`; its reply sets
/// `in_reply_to` to the same value. The hub only forwards them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Correlation<S> {
    /// Set on a request: the id its reply will carry in `in_reply_to`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<S>,
    /// Set on a reply: the `correlation_id` of the request it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<S>,
}

impl<S: AsRef<str>> Correlation<S> {
    /// Borrows the ids.
    pub fn as_refs(&self) -> Correlation<&str> {
        Correlation {
            correlation_id: self.correlation_id.as_ref().map(AsRef::as_ref),
            in_reply_to: self.in_reply_to.as_ref().map(AsRef::as_ref),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(value: &bool) -> bool {
    *value
}

/// A position in a topic's stream: the `offset` of the last publication
/// seen, within the topic's `epoch` (a new epoch means the history before it
/// is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamPosition<'a> {
    /// The topic's epoch, from `hub:subscribe_ack`.
    pub epoch: Cow<'a, str>,
    /// The last offset seen (0: none yet).
    pub offset: u64,
}

/// A client frame. Decoded by the server borrowing from the text it was read
/// from (a payload costs no copy), built by clients from owned values.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum ClientFrame<'a> {
    /// `hub:connect`: register this session under `address`.
    #[serde(rename = "hub:connect")]
    Connect {
        /// The address to register: with a `device`, the user whose
        /// connection this is.
        address: Cow<'a, str>,
        /// Which of the user's connections this is (a tab, a device): the
        /// session registers `address/device`, so the user's other
        /// connections stay. The same device connecting again replaces its
        /// older session. `None`: the address itself, one connection.
        #[serde(skip_serializing_if = "Option::is_none")]
        device: Option<Cow<'a, str>>,
        /// An opaque token for the authenticator.
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<Cow<'a, str>>,
        /// Arbitrary client metadata, handed to the authenticator.
        #[serde(skip_serializing_if = "Option::is_none")]
        metadata: Option<Cow<'a, RawValue>>,
        /// Optional features the client asks for ([`FEATURE_BATCH`]);
        /// unknown ones are ignored.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        features: Vec<Cow<'a, str>>,
    },
    /// `hub:send`: a direct message to one address.
    #[serde(rename = "hub:send")]
    Send {
        /// The recipient address.
        to: Cow<'a, str>,
        /// Raw JSON payload.
        payload: Cow<'a, RawValue>,
        /// Request/reply correlation, forwarded verbatim to the recipient.
        #[serde(flatten)]
        correlation: Correlation<Cow<'a, str>>,
        /// `false`: acknowledge only a rejection (fire-and-forget). Default `true`.
        #[serde(skip_serializing_if = "is_true")]
        ack: bool,
        /// The client's id for this message, kept across its retries: a
        /// hub that stores messages answers a retry without storing twice.
        #[serde(skip_serializing_if = "Option::is_none")]
        msg_id: Option<Cow<'a, str>>,
        /// Ask for a `hub:receipt` when the recipient acknowledges the
        /// message (or when its TTL passes first). Default `false`.
        #[serde(default, skip_serializing_if = "is_false")]
        receipt: bool,
    },
    /// `hub:publish`: a message to every subscriber of a topic.
    #[serde(rename = "hub:publish")]
    Publish {
        /// The topic.
        topic: Cow<'a, str>,
        /// Raw JSON payload.
        payload: Cow<'a, RawValue>,
        /// As for `Send` (reserved).
        #[serde(skip_serializing_if = "Option::is_none")]
        msg_id: Option<Cow<'a, str>>,
    },
    /// `hub:subscribe`.
    #[serde(rename = "hub:subscribe")]
    Subscribe {
        /// The topic.
        topic: Cow<'a, str>,
        /// Where the client left off: replay what was published after this
        /// position from the topic's history, then continue live (needs the
        /// namespace's `history` right).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<StreamPosition<'a>>,
        /// A subscription token for this topic: the application's grant to
        /// join it (checked by the authenticator).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<Cow<'a, str>>,
    },
    /// `hub:unsubscribe`.
    #[serde(rename = "hub:unsubscribe")]
    Unsubscribe {
        /// The topic.
        topic: Cow<'a, str>,
    },
    /// `hub:broadcast`: one payload to a list of addresses, or to all.
    #[serde(rename = "hub:broadcast")]
    Broadcast {
        /// The recipients.
        to: BroadcastTarget,
        /// Raw JSON payload.
        payload: Cow<'a, RawValue>,
        /// As for `Send` (reserved).
        #[serde(skip_serializing_if = "Option::is_none")]
        msg_id: Option<Cow<'a, str>>,
    },
    /// `hub:presence`: a page of a topic's members (needs the namespace's
    /// `presence` right and `track_presence`).
    #[serde(rename = "hub:presence")]
    Presence {
        /// The topic.
        topic: Cow<'a, str>,
        /// Most members to list (1 to 1000). Default 100.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<usize>,
        /// List members after this address (the previous page's `next`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Cow<'a, str>>,
    },
    /// `hub:presence_stats`: how many members a topic has.
    #[serde(rename = "hub:presence_stats")]
    PresenceStats {
        /// The topic.
        topic: Cow<'a, str>,
    },
    /// `hub:watch`: hear when `address` comes online and goes offline
    /// (needs the `watch` right on it).
    #[serde(rename = "hub:watch")]
    Watch {
        /// The address.
        address: Cow<'a, str>,
    },
    /// `hub:unwatch`: stop watching `address`.
    #[serde(rename = "hub:unwatch")]
    Unwatch {
        /// The address.
        address: Cow<'a, str>,
    },
    /// `hub:refresh`: a fresh token for the live session (reserved: sent to
    /// servers that announce `token_refresh`).
    #[serde(rename = "hub:refresh")]
    Refresh {
        /// The new token.
        token: Cow<'a, str>,
    },
    /// `hub:sub_refresh`: a fresh subscription token for a topic the
    /// session holds by one.
    #[serde(rename = "hub:sub_refresh")]
    SubRefresh {
        /// The topic.
        topic: Cow<'a, str>,
        /// The new token.
        token: Cow<'a, str>,
    },
    /// `hub:ack`: every stored direct message up to `seq` is taken (cumulative);
    /// not answered.
    #[serde(rename = "hub:ack")]
    Ack {
        /// The highest `seq` taken.
        seq: u64,
    },
    /// `hub:rpc`: a call answered by the application's backend (its RPC
    /// proxy): `hub:rpc_ack` with its `data`, or `hub:error`. Needs an `id`.
    #[serde(rename = "hub:rpc")]
    Rpc {
        /// What to call: 1 to 128 letters, digits or `_ . : / -`.
        method: Cow<'a, str>,
        /// Its argument, any JSON; absent: `null`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        data: Option<Cow<'a, RawValue>>,
    },
    /// `hub:ping`: a heartbeat; answered with `hub:pong`.
    #[serde(rename = "hub:ping")]
    Ping,
    /// `hub:disconnect`: close cleanly; answered with `hub:disconnect_ack`.
    #[serde(rename = "hub:disconnect")]
    Disconnect,
}

/// A client frame with its optional request id: one JSON object on the wire.
#[derive(Debug, Clone, Serialize)]
pub struct Request<'a> {
    /// The id the answer echoes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<FrameId>,
    /// The frame.
    #[serde(flatten)]
    pub frame: ClientFrame<'a>,
}

impl Request<'_> {
    /// Serializes the request to JSON text.
    ///
    /// # Errors
    /// Only if a payload is not valid JSON (a `RawValue` always is).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}
