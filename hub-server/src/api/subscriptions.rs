//! `POST /api/subscribe` and `POST /api/unsubscribe`: server-side
//! subscriptions of a user's connections (its own address and each device,
//! on every node) to a topic, whatever their own rights.

use actix_web::web;
use hub_core::Hub;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Body;
use super::keys::{Authorized, NeedsDisconnect};
use super::AUDIT;

/// `POST /api/subscribe` and `POST /api/unsubscribe`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserTopicRequest {
    /// The user: its own address and each of its devices.
    pub user: String,
    /// The topic.
    pub topic: String,
}

/// How many sessions were told.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserTopicResponse {
    /// The user's sessions told to join (or leave) the topic, on every node
    /// that answered.
    pub sessions: usize,
}

/// Subscribes every connection of a user to a topic (`hub:subscribed`).
#[utoipa::path(post, path = "/api/subscribe", request_body = UserTopicRequest,
    responses(
        (status = 200, body = UserTopicResponse),
        (status = 400, body = ApiError, description = "a bad name, or an unconfigured namespace"),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 429, body = ApiError),
    ),
    security(("api_key" = ["disconnect"])))]
pub(super) async fn subscribe(
    auth: Authorized<NeedsDisconnect>,
    hub: web::Data<Hub>,
    body: Body<UserTopicRequest>,
) -> Result<web::Json<UserTopicResponse>, ApiError> {
    let sessions = hub.subscribe_user(&body.user, &body.topic).await?;
    tracing::info!(target: AUDIT, key = %auth.caller.name, action = "subscribe",
        user = %body.user, topic = %body.topic, sessions, "api action");
    Ok(web::Json(UserTopicResponse { sessions }))
}

/// Ends a topic for every connection of a user (`hub:unsubscribed`, `server`).
#[utoipa::path(post, path = "/api/unsubscribe", request_body = UserTopicRequest,
    responses(
        (status = 200, body = UserTopicResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["disconnect"])))]
pub(super) async fn unsubscribe(
    auth: Authorized<NeedsDisconnect>,
    hub: web::Data<Hub>,
    body: Body<UserTopicRequest>,
) -> Result<web::Json<UserTopicResponse>, ApiError> {
    let sessions = hub.unsubscribe_user(&body.user, &body.topic).await?;
    tracing::info!(target: AUDIT, key = %auth.caller.name, action = "unsubscribe",
        user = %body.user, topic = %body.topic, sessions, "api action");
    Ok(web::Json(UserTopicResponse { sessions }))
}
