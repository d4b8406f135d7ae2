//! `POST /api/revoke`: revokes a user or one token (by its `jti`) until a
//! time; their sessions are closed with `revoked` (4503) on every node, and
//! a connect with them is refused until then.

use actix_web::web;
use hub_core::protocol::validate_name;
use hub_core::{Hub, Revocation, Revoked};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use super::extract::Body;
use super::keys::{Authorized, NeedsDisconnect};
use super::AUDIT;

/// The longest a revocation may last: a year.
const MAX_REVOCATION_MS: u64 = 366 * 24 * 3600 * 1000;

/// `POST /api/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// A user: every token of it (its own address and its devices).
    #[serde(default)]
    pub user: Option<String>,
    /// One token, by its `jti` claim.
    #[serde(default)]
    pub jti: Option<String>,
    /// How long from now, in ms (or give `until_ms`).
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    /// Until when, in Unix ms (or give `ttl_ms`).
    #[serde(default)]
    pub until_ms: Option<u64>,
}

/// What a revocation did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResponse {
    /// Sessions closed with `revoked` (4503), on every node that answered.
    pub closed: usize,
    /// Until when it holds, in Unix ms.
    pub until_ms: u64,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Revokes a user or a token until a time.
#[utoipa::path(post, path = "/api/revoke", request_body = RevokeRequest,
    responses(
        (status = 200, body = RevokeResponse),
        (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError),
        (status = 429, body = ApiError, description = "rate limited, or max_revocations are kept"),
        (status = 503, body = ApiError, description = "the revocation could not be kept in Redis"),
    ),
    security(("api_key" = ["disconnect"])))]
pub(super) async fn revoke(
    auth: Authorized<NeedsDisconnect>,
    hub: web::Data<Hub>,
    body: Body<RevokeRequest>,
) -> Result<web::Json<RevokeResponse>, ApiError> {
    let max = hub.config().max_name_bytes;
    let what = match (&body.user, &body.jti) {
        (Some(user), None) => {
            validate_name("user", user, max).map_err(ApiError::invalid_field)?;
            Revoked::User(user.clone())
        }
        (None, Some(jti)) => {
            validate_name("jti", jti, max).map_err(ApiError::invalid_field)?;
            Revoked::Jti(jti.clone())
        }
        _ => {
            return Err(ApiError::invalid_field(
                "give one of `user` (every token of the user) or `jti` (one token)",
            ))
        }
    };
    let now = now_ms();
    let until_ms = match (body.ttl_ms, body.until_ms) {
        (Some(ttl), None) if (1..=MAX_REVOCATION_MS).contains(&ttl) => now + ttl,
        (None, Some(until)) if until > now && until - now <= MAX_REVOCATION_MS => until,
        _ => {
            return Err(ApiError::invalid_field(format!(
                "give one of `ttl_ms` (from now) or `until_ms` (Unix ms, in the future), \
                 at most {MAX_REVOCATION_MS} ms away"
            )))
        }
    };
    let field = match &what {
        Revoked::User(_) => "user",
        Revoked::Jti(_) => "jti",
    };
    let closed = hub.revoke(Revocation { what, until_ms }).await?;
    tracing::info!(target: AUDIT, key = %auth.caller.name, action = "revoke", field,
        until_ms, closed, "api action");
    Ok(web::Json(RevokeResponse { closed, until_ms }))
}
