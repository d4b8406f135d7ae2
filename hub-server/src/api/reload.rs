//! `POST /api/reload`: what SIGHUP does, for an operator without a shell on
//! the host (see [`crate::reload`]).

use actix_web::web;
use hub_core::protocol::ErrorCode;

use super::error::ApiError;
use super::keys::{Authorized, NeedsAdmin};
use crate::reload::{Reloaded, Reloader};

/// Reads the config again (file, environment, flags) and applies what may
/// change without a restart: the TLS certificate, the JWT settings, the API
/// keys, the log level. All or nothing: a setting that needs a restart, or a
/// file that cannot be used, refuses the whole reload (409 `reload_refused`,
/// each named). No connection is dropped.
#[utoipa::path(post, path = "/api/reload",
    responses(
        (status = 200, body = Reloaded),
        (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError), (status = 429, body = ApiError),
    ),
    security(("api_key" = ["admin"])))]
pub(super) async fn reload(
    auth: Authorized<NeedsAdmin>,
    reloader: web::Data<Reloader>,
) -> Result<web::Json<Reloaded>, ApiError> {
    let key = auth.caller.name.clone();
    // Files are read: off the HTTP worker's thread.
    let outcome = web::block(move || reloader.reload())
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    crate::reload::log(&outcome, "api");
    if let Ok(reloaded) = &outcome {
        tracing::info!(target: super::AUDIT, key = %key, action = "reload",
            changed = ?reloaded.changed, "api action");
    }
    outcome.map(web::Json).map_err(|error| {
        ApiError::new(ErrorCode::ReloadRefused, error).hint(ErrorCode::ReloadRefused.hint())
    })
}
