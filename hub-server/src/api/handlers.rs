//! The server API's routes: what a backend may do to the hub over HTTP,
//! with the same outcomes a client's frames get. Each operation is a plain
//! function (`*_op`) shared by its route and by `POST /api/batch`.

use actix_web::{web, HttpResponse};
use hub_core::permissions::{Permissions, DEFAULT_NAMESPACE};
use hub_core::protocol::{validate_name, BroadcastTarget, CloseCode, DeliveryStatus, ErrorCode};
use hub_core::{BroadcastOptions, Hub, HubError, PublishOptions, SendOptions};
use serde::Serialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::extract::{Body, Params};
use super::keys::{
    AnyScope, Authorized, Caller, NeedsBroadcast, NeedsDisconnect, NeedsPublish, NeedsRead,
    NeedsSend, Scope,
};
pub use super::types::*;
use super::ApiLimits;
use super::AUDIT;

fn sender<'a>(
    from: &'a Option<String>,
    caller: &'a Caller,
    hub: &Hub,
) -> Result<&'a str, ApiError> {
    let from = from.as_deref().unwrap_or(&caller.name);
    validate_name("from", from, hub.config().max_name_bytes).map_err(ApiError::invalid_field)?;
    Ok(from)
}

fn check_payload(payload: &RawValue, hub: &Hub) -> Result<(), ApiError> {
    let max = hub.config().max_message_bytes;
    if payload.get().len() > max {
        return Err(ApiError::new(
            ErrorCode::MessageTooLarge,
            format!("the payload is over max_message_bytes ({max})"),
        ));
    }
    Ok(())
}

fn check_namespace(topic: &str, hub: &Hub) -> Result<(), ApiError> {
    let namespace = Permissions::namespace_of(topic);
    if namespace == DEFAULT_NAMESPACE || hub.config().namespaces.contains_key(namespace) {
        return Ok(());
    }
    Err(HubError::UnknownNamespace(namespace.to_owned()).into())
}

/// An idempotency key is limited like a name.
fn check_idempotency_key(key: Option<&str>, hub: &Hub) -> Result<(), ApiError> {
    match key {
        Some(key) => validate_name("idempotency_key", key, hub.config().max_name_bytes)
            .map_err(ApiError::invalid_field),
        None => Ok(()),
    }
}

pub(super) async fn publish_op(
    hub: &Hub,
    caller: &Caller,
    req: &PublishRequest,
) -> Result<PublishResponse, ApiError> {
    let from = sender(&req.from, caller, hub)?;
    check_payload(&req.payload, hub)?;
    check_namespace(&req.topic, hub)?;
    check_idempotency_key(req.idempotency_key.as_deref(), hub)?;
    let mut options = PublishOptions::default();
    options.msg_id = req.idempotency_key.clone();
    let published = hub.publish(&req.topic, from, &req.payload, options).await?;
    tracing::debug!(target: AUDIT, key = %caller.name, action = "publish", topic = %req.topic,
        recipients = published.recipients, "api action");
    Ok(PublishResponse {
        recipients: published.recipients,
        offset: published.offset,
    })
}

pub(super) async fn send_op(
    hub: &Hub,
    caller: &Caller,
    req: &SendRequest,
) -> Result<SendResponse, ApiError> {
    let from = sender(&req.from, caller, hub)?;
    check_payload(&req.payload, hub)?;
    check_idempotency_key(req.idempotency_key.as_deref(), hub)?;
    let mut options = SendOptions::default();
    options.msg_id = req.idempotency_key.clone();
    let (status, reason) = match hub.send(from, &req.to, &req.payload, options).await {
        Ok(DeliveryStatus::Queued) => (SendStatus::Queued, None),
        Ok(_) => (SendStatus::Accepted, None),
        Err(
            e @ (HubError::RecipientNotFound(_)
            | HubError::RecipientSlow(_)
            | HubError::RecipientQueueFull(_)),
        ) => (SendStatus::Rejected, Some(e.code())),
        Err(e) => return Err(e.into()),
    };
    tracing::debug!(target: AUDIT, key = %caller.name, action = "send", to = %req.to,
        status = ?status, "api action");
    Ok(SendResponse { status, reason })
}

pub(super) async fn broadcast_op(
    hub: &Hub,
    caller: &Caller,
    req: &BroadcastRequest,
) -> Result<BroadcastResponse, ApiError> {
    let from = sender(&req.from, caller, hub)?;
    check_payload(&req.payload, hub)?;
    let target = match &req.to {
        Recipients::All(star) if star == "*" => BroadcastTarget::All,
        Recipients::All(other) => {
            return Err(ApiError::invalid_field(format!(
                "`to` is a list of addresses or \"*\", not \"{other}\""
            )))
        }
        Recipients::List(list) => BroadcastTarget::List(list.clone()),
    };
    check_idempotency_key(req.idempotency_key.as_deref(), hub)?;
    // Every node's holders (the Redis engine), as a client's broadcast.
    let mut options = BroadcastOptions::default();
    options.msg_id = req.idempotency_key.clone();
    let reached = hub.broadcast(from, &target, &req.payload, options).await?;
    tracing::debug!(target: AUDIT, key = %caller.name, action = "broadcast",
        recipients = reached.recipients, "api action");
    Ok(BroadcastResponse {
        recipients: reached.recipients,
        not_found: reached.not_found,
    })
}

pub(super) async fn disconnect_op(
    hub: &Hub,
    caller: &Caller,
    req: &DisconnectRequest,
) -> Result<DisconnectResponse, ApiError> {
    let max = hub.config().max_name_bytes;
    let target = match (&req.address, &req.user, &req.keep) {
        (Some(address), None, None) => Target::Address(address),
        (None, Some(user), keep) => Target::User(user, keep.as_deref()),
        (Some(_), None, Some(_)) => {
            return Err(ApiError::invalid_field(
                "`keep` goes with `user`: which of the user's connections to leave open",
            ))
        }
        _ => {
            return Err(ApiError::invalid_field(
                "give one of `address` (one connection) or `user` (all of its connections)",
            ))
        }
    };
    let name = match target {
        Target::Address(address) => address,
        Target::User(user, keep) => {
            if let Some(keep) = keep {
                validate_name("keep", keep, max).map_err(ApiError::invalid_field)?;
            }
            user
        }
    };
    validate_name(target.field(), name, max).map_err(ApiError::invalid_field)?;
    let code = match req.code.as_deref() {
        None | Some("disconnected") => CloseCode::Disconnected,
        Some("kicked") => CloseCode::Kicked,
        Some(other) => {
            return Err(ApiError::invalid_field(format!(
                "`code` is \"disconnected\" or \"kicked\", not \"{other}\""
            )))
        }
    };
    let disconnected = match target {
        Target::Address(address) => hub.disconnect(address, code).await?,
        Target::User(user, keep) => hub.disconnect_user(user, keep, code).await?,
    };
    tracing::info!(target: AUDIT, key = %caller.name, action = "disconnect",
        field = target.field(), address = %name, code = code.as_str(), disconnected,
        "api action");
    Ok(DisconnectResponse { disconnected })
}

/// What `POST /api/disconnect` closes.
#[derive(Clone, Copy)]
enum Target<'a> {
    Address(&'a str),
    /// A user's connections, but one.
    User(&'a str, Option<&'a str>),
}

impl Target<'_> {
    fn field(self) -> &'static str {
        match self {
            Self::Address(_) => "address",
            Self::User(..) => "user",
        }
    }
}

/// Publishes to a topic, as a client's `hub:publish` would (namespace
/// policies do not apply: the key's scope does).
#[utoipa::path(post, path = "/api/publish", request_body = PublishRequest,
    responses(
        (status = 200, body = PublishResponse),
        (status = 400, body = ApiError, description = "a bad field, or an unconfigured namespace"),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "idempotency_key used for another message"),
        (status = 413, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["publish"])))]
pub(super) async fn publish(
    auth: Authorized<NeedsPublish>,
    hub: web::Data<Hub>,
    body: Body<PublishRequest>,
) -> Result<web::Json<PublishResponse>, ApiError> {
    publish_op(&hub, &auth.caller, &body).await.map(web::Json)
}

/// Sends to an address, as a client's `hub:send` would.
#[utoipa::path(post, path = "/api/send", request_body = SendRequest,
    responses(
        (status = 200, body = SendResponse, description = "accepted, queued, or rejected with the reason"),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "idempotency_key used for another message"),
        (status = 413, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["send"])))]
pub(super) async fn send(
    auth: Authorized<NeedsSend>,
    hub: web::Data<Hub>,
    body: Body<SendRequest>,
) -> Result<web::Json<SendResponse>, ApiError> {
    send_op(&hub, &auth.caller, &body).await.map(web::Json)
}

/// Sends one payload to several addresses, or to all.
#[utoipa::path(post, path = "/api/broadcast", request_body = BroadcastRequest,
    responses(
        (status = 200, body = BroadcastResponse),
        (status = 400, body = ApiError, description = "a bad field, or over broadcast_max_recipients"),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 413, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["broadcast"])))]
pub(super) async fn broadcast(
    auth: Authorized<NeedsBroadcast>,
    hub: web::Data<Hub>,
    body: Body<BroadcastRequest>,
) -> Result<web::Json<BroadcastResponse>, ApiError> {
    broadcast_op(&hub, &auth.caller, &body).await.map(web::Json)
}

/// Closes the session holding an address, with `disconnected` (4008) or `kicked` (4502).
#[utoipa::path(post, path = "/api/disconnect", request_body = DisconnectRequest,
    responses(
        (status = 200, body = DisconnectResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["disconnect"])))]
pub(super) async fn disconnect(
    auth: Authorized<NeedsDisconnect>,
    hub: web::Data<Hub>,
    body: Body<DisconnectRequest>,
) -> Result<web::Json<DisconnectResponse>, ApiError> {
    disconnect_op(&hub, &auth.caller, &body)
        .await
        .map(web::Json)
}

/// Lists topics alive in the hub with their subscriber counts (every node's).
#[utoipa::path(get, path = "/api/topics", params(TopicsQuery),
    responses(
        (status = 200, body = TopicsResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn topics(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
    query: Params<TopicsQuery>,
) -> Result<web::Json<TopicsResponse>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("`limit` is between 1 and 1000"));
    }
    let topics = hub.topics(&query.prefix, limit).await;
    Ok(web::Json(TopicsResponse {
        topics: topics
            .into_iter()
            .map(|t| TopicEntry {
                name: t.name,
                subscribers: t.subscribers,
            })
            .collect(),
    }))
}

/// What this node is and holds.
#[utoipa::path(get, path = "/api/node",
    responses(
        (status = 200, body = NodeResponse),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 429, body = ApiError),
    ),
    security(("api_key" = ["read"])))]
pub(super) async fn node(
    _auth: Authorized<NeedsRead>,
    hub: web::Data<Hub>,
) -> web::Json<NodeResponse> {
    let m = hub.metrics();
    web::Json(NodeResponse {
        node_id: hub.node_id(),
        version: env!("CARGO_PKG_VERSION").into(),
        draining: hub.is_draining(),
        auth_enforced: hub.auth_enforced(),
        connections: m.connections,
        registered: m.registered,
        topics: m.topics,
        publications_total: m.publications_total,
        deliveries_total: m.deliveries_total,
        nodes: hub
            .nodes()
            .await
            .into_iter()
            .map(|n| NodeEntry {
                node_id: n.node_id,
                draining: n.draining,
                connections: n.connections,
                registered: n.registered,
                topics: n.topics,
            })
            .collect(),
    })
}

/// Runs several publish, send, broadcast and disconnect requests in order,
/// each checked against the key's scopes on its own.
#[utoipa::path(post, path = "/api/batch", request_body = BatchRequest,
    responses(
        (status = 200, body = BatchResponse, description = "one result per request, in order"),
        (status = 400, body = ApiError, description = "not a batch, or over api_max_batch"),
        (status = 401, body = ApiError), (status = 413, body = ApiError),
        (status = 429, body = ApiError),
    ),
    security(("api_key" = [])))]
pub(super) async fn batch(
    auth: Authorized<AnyScope>,
    hub: web::Data<Hub>,
    limits: web::Data<ApiLimits>,
    body: Body<BatchRequest>,
) -> Result<web::Json<BatchResponse>, ApiError> {
    if body.requests.len() > limits.max_batch {
        return Err(ApiError::new(
            ErrorCode::InvalidField,
            format!(
                "`requests` holds more than api_max_batch ({})",
                limits.max_batch
            ),
        )
        .hint("split the batch"));
    }
    let mut results = Vec::with_capacity(body.requests.len());
    for item in &body.requests {
        let outcome = run_item(&hub, &auth.caller, item).await;
        results.push(match outcome {
            Ok(value) => BatchResult {
                status: 200,
                result: Some(value),
                error: None,
            },
            Err(e) => BatchResult {
                status: super::error::status_of(e.code).as_u16(),
                result: None,
                error: Some(e),
            },
        });
    }
    Ok(web::Json(BatchResponse { results }))
}

async fn run_item(
    hub: &Hub,
    caller: &Caller,
    item: &BatchItem,
) -> Result<serde_json::Value, ApiError> {
    fn json(value: impl Serialize) -> Result<serde_json::Value, ApiError> {
        serde_json::to_value(value).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))
    }
    match item {
        BatchItem::Publish(req) => {
            caller.require(Scope::Publish)?;
            json(publish_op(hub, caller, req).await?)
        }
        BatchItem::Send(req) => {
            caller.require(Scope::Send)?;
            json(send_op(hub, caller, req).await?)
        }
        BatchItem::Broadcast(req) => {
            caller.require(Scope::Broadcast)?;
            json(broadcast_op(hub, caller, req).await?)
        }
        BatchItem::Disconnect(req) => {
            caller.require(Scope::Disconnect)?;
            json(disconnect_op(hub, caller, req).await?)
        }
    }
}

/// Serves the OpenAPI document of these routes.
pub(super) async fn openapi() -> HttpResponse {
    use utoipa::OpenApi;
    match super::ApiDoc::openapi().to_json() {
        Ok(json) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}
