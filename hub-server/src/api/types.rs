//! The bodies, queries and answers of the server API's routes, as the
//! OpenAPI document shows them.

use hub_core::protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::error::ApiError;

/// `POST /api/publish`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The topic.
    pub topic: String,
    /// Any JSON value, delivered verbatim.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// The sender subscribers see in `from`. Default: the API key's name.
    #[serde(default)]
    pub from: Option<String>,
    /// Makes a retry safe (hub with durability on): the same key, sender,
    /// topic and payload within `dedupe_window_ms` get the first answer
    /// and publish nothing; the same key for another message is 409
    /// `idempotency_conflict`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What a publish reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishResponse {
    /// Subscribers on this node whose queues took the message.
    pub recipients: usize,
    /// Its offset, in a namespace with history (it is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `POST /api/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The recipient's address.
    pub to: String,
    /// Any JSON value, delivered verbatim.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// The sender the recipient sees. Default: the API key's name.
    #[serde(default)]
    pub from: Option<String>,
    /// Makes a retry safe (with durability on): the same key, sender,
    /// target and payload within `dedupe_window_ms` gets the first answer
    /// and is not stored twice; the same key for another message is 409
    /// `idempotency_conflict`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Whether the recipient's queue took a direct message, as in `hub:delivery_ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// The recipient's queue (or in-process actor) took it (stored first,
    /// when the hub stores direct messages).
    Accepted,
    /// Stored; the recipient is away and gets it when it connects.
    Queued,
    /// It was not delivered; `reason` says why.
    Rejected,
}

/// The outcome of a send, as `hub:delivery_ack` has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendResponse {
    /// `accepted` or `rejected`.
    pub status: SendStatus,
    /// With `rejected`: `recipient_not_found`, `recipient_slow` or `recipient_queue_full`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "recipient_not_found")]
    pub reason: Option<ErrorCode>,
}

/// Recipients of a broadcast: addresses, or `"*"` for every address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Recipients {
    /// These addresses.
    List(Vec<String>),
    /// `"*"`: every registered address.
    All(String),
}

/// `POST /api/broadcast`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    /// A list of addresses (at most `broadcast_max_recipients`) or `"*"`.
    pub to: Recipients,
    /// Any JSON value, delivered verbatim.
    #[schema(value_type = Object)]
    pub payload: Box<RawValue>,
    /// The sender recipients see. Default: the API key's name.
    #[serde(default)]
    pub from: Option<String>,
    /// Makes a retry safe (with durability on): the same key, sender,
    /// target and payload within `dedupe_window_ms` gets the first answer
    /// and delivers nothing; the same key for another message is 409
    /// `idempotency_conflict`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What a broadcast reached.
#[derive(Debug, Serialize, ToSchema)]
pub struct BroadcastResponse {
    /// Recipients whose queues took the message.
    pub recipients: usize,
    /// Listed addresses nobody holds (or whose session is closing).
    pub not_found: Vec<String>,
}

/// `POST /api/disconnect`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// The address whose session to close (or give `user`).
    #[serde(default)]
    pub address: Option<String>,
    /// A user whose every connection to close: its own address and each of
    /// its devices (`user/device`), on every node.
    #[serde(default)]
    pub user: Option<String>,
    /// With `user`: the one connection (address) to leave open.
    #[serde(default)]
    pub keep: Option<String>,
    /// `disconnected` (4008, the client may reconnect; the default) or
    /// `kicked` (4502, it should not).
    #[serde(default)]
    pub code: Option<String>,
}

/// Whether a session was told to close.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectResponse {
    /// A session held the address (one of the user's, for `user`) and was
    /// told to close.
    pub disconnected: bool,
}

/// `GET /api/topics` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TopicsQuery {
    /// Only topics whose name starts with this.
    #[serde(default)]
    pub prefix: String,
    /// At most this many, in name order (1 to 1000; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicEntry {
    /// Its name.
    pub name: String,
    /// Its subscribers on every node (that answered in time).
    pub subscribers: usize,
}

/// Topics alive in the hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicsResponse {
    /// In name order.
    pub topics: Vec<TopicEntry>,
}

/// The node that answered, and every node of the hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeResponse {
    /// The node's id (random per start).
    pub node_id: String,
    /// hub-server's version.
    pub version: String,
    /// Whether the node is draining for shutdown.
    pub draining: bool,
    /// Whether connects need a token.
    pub auth_enforced: bool,
    /// WebSocket connections open now.
    pub connections: u64,
    /// Addresses registered now.
    pub registered: u64,
    /// Topics alive now.
    pub topics: u64,
    /// Publications since start.
    pub publications_total: u64,
    /// Messages delivered into queues since start.
    pub deliveries_total: u64,
    /// Every node of the hub (that answered in time), this one first.
    pub nodes: Vec<NodeEntry>,
}

/// One node of the hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeEntry {
    /// The node's id.
    pub node_id: String,
    /// Whether it is draining for shutdown.
    pub draining: bool,
    /// WebSocket connections open on it.
    pub connections: u64,
    /// Addresses its sessions hold.
    pub registered: u64,
    /// Topics alive on it.
    pub topics: u64,
}

/// One request of a batch: `{"publish": {...}}`, `{"send": {...}}`,
/// `{"broadcast": {...}}` or `{"disconnect": {...}}`, each holding that
/// route's body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BatchItem {
    /// As `POST /api/publish`.
    Publish(PublishRequest),
    /// As `POST /api/send`.
    Send(SendRequest),
    /// As `POST /api/broadcast`.
    Broadcast(BroadcastRequest),
    /// As `POST /api/disconnect`.
    Disconnect(DisconnectRequest),
}

/// `POST /api/batch`: requests run in order; each gets its own result.
/// The whole batch is read first: one malformed item refuses it all (400),
/// before any item runs.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most `api_max_batch` items.
    pub requests: Vec<BatchItem>,
}

/// The result of one batch item: its HTTP-like status and either the
/// route's answer or an error.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// What the route alone would have answered (200, 400, 403, 413, ...).
    pub status: u16,
    /// The route's answer, when `status` is 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The error, otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// The results of a batch, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// One per request.
    pub results: Vec<BatchResult>,
}
