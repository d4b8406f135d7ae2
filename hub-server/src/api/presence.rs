//! Presence for backends: a topic's members page by page, their count, and
//! whether an address is online — what clients see with `hub:presence`,
//! `hub:presence_stats` and `hub:watch`. Each needs the `read` scope.

use actix_web::web;
use hub_core::protocol::presence::{PRESENCE_PAGE_DEFAULT, PRESENCE_PAGE_MAX};
use hub_core::Hub;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Params;
use super::keys::{Authorized, NeedsRead};

/// `GET /api/presence` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PresenceQuery {
    /// The topic (its namespace must set `track_presence`).
    pub topic: String,
    /// Members after this address (the previous page's `next`).
    #[serde(default)]
    pub after: Option<String>,
    /// At most this many, in address order (1 to 1000; default 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// One member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberEntry {
    /// Its address.
    pub address: String,
    /// Its token's `info` claim, verbatim.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub info: Option<Box<RawValue>>,
}

/// A page of a topic's members on this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceResponse {
    /// In address order.
    pub members: Vec<MemberEntry>,
    /// When more follow: the `after` of the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// How many members the topic has.
    pub total: usize,
}

/// `GET /api/presence_stats` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PresenceStatsQuery {
    /// The topic.
    pub topic: String,
}

/// How many members a topic has on this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceStatsResponse {
    /// Members.
    pub members: usize,
}

/// `GET /api/online` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OnlineQuery {
    /// The address.
    pub address: String,
}

/// Whether an address is online.
#[derive(Debug, Serialize, ToSchema)]
pub struct OnlineResponse {
    /// Held by a session or in-process actor, or within its offline grace.
    pub online: bool,
}

/// `GET /api/connections` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsQuery {
    /// The user.
    pub user: String,
}

/// A user's live connections in the hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionsResponse {
    /// Its own address (if a session holds it) and each of its devices,
    /// in address order.
    pub connections: Vec<UserConnection>,
}

/// One of a user's connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserConnection {
    /// The connection's address: the user's, or `user/device`.
    pub address: String,
    /// The id of the node that holds it (as `GET /api/node` names it).
    pub node: String,
}

/// A page of a topic's members, in address order, with each one's info.
#[utoipa::path(get, path = "/api/presence", params(PresenceQuery),
    responses(
        (status = 200, body = PresenceResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn presence(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
    query: Params<PresenceQuery>,
) -> Result<web::Json<PresenceResponse>, ApiError> {
    let limit = query.limit.unwrap_or(PRESENCE_PAGE_DEFAULT);
    if !(1..=PRESENCE_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_field(format!(
            "`limit` is between 1 and {PRESENCE_PAGE_MAX}"
        )));
    }
    let page = hub
        .presence(&query.topic, query.after.as_deref(), limit)
        .await?;
    Ok(web::Json(PresenceResponse {
        members: page
            .members
            .into_iter()
            .map(|(address, info)| MemberEntry {
                address,
                info: info.map(|i| (*i).to_owned()),
            })
            .collect(),
        next: page.next,
        total: page.total,
    }))
}

/// How many members a topic has.
#[utoipa::path(get, path = "/api/presence_stats", params(PresenceStatsQuery),
    responses(
        (status = 200, body = PresenceStatsResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn presence_stats(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
    query: Params<PresenceStatsQuery>,
) -> Result<web::Json<PresenceStatsResponse>, ApiError> {
    let members = hub.presence_stats(&query.topic).await?;
    Ok(web::Json(PresenceStatsResponse { members }))
}

/// Whether an address is online.
#[utoipa::path(get, path = "/api/online", params(OnlineQuery),
    responses(
        (status = 200, body = OnlineResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn online(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
    query: Params<OnlineQuery>,
) -> Result<web::Json<OnlineResponse>, ApiError> {
    let online = hub.online(&query.address).await?;
    Ok(web::Json(OnlineResponse { online }))
}

/// A user's live connections: its own address and its devices, with the
/// node of each.
#[utoipa::path(get, path = "/api/connections", params(ConnectionsQuery),
    responses(
        (status = 200, body = ConnectionsResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn connections(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
    query: Params<ConnectionsQuery>,
) -> Result<web::Json<ConnectionsResponse>, ApiError> {
    let held = hub.connections(&query.user).await?;
    Ok(web::Json(ConnectionsResponse {
        connections: held
            .into_iter()
            .map(|(address, node)| UserConnection { address, node })
            .collect(),
    }))
}
