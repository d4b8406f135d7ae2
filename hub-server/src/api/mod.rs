//! The server API: HTTP routes for backends, under `/api/`, with bearer
//! API keys from the config (see [`keys`]), errors from the one codes table
//! (see [`error`]), and an OpenAPI document generated from the handlers'
//! types at `/api/openapi.json`.
//!
//! [`routes`] is the one list of the API's routes: [`configure`] mounts
//! exactly these, and a test checks each is in the OpenAPI document and
//! the document has no other. Every successful action leaves an audit
//! line (target [`AUDIT`]).

pub mod error;
pub mod extract;
pub mod handlers;
pub mod keys;
pub mod presence;
pub mod reload;
pub mod revoke;
pub mod subscriptions;
pub mod types;

use actix_web::http::Method;
use actix_web::{web, Route};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use keys::ApiKeys;

/// The log target of the audit trail: every successful API action, with
/// the key's name (the request span adds the trace id and client).
/// Actions on sessions and the server (`disconnect`, `reload`) are `info`;
/// messages (`publish`, `send`, `broadcast`, batch items) are `debug`, so
/// that a busy backend does not write a line per message unless asked:
/// `log_level = "info,audit=debug"`.
pub const AUDIT: &str = "audit";

/// Limits of the API beyond the keys' own.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// Items in one batch.
    pub max_batch: usize,
}

/// The OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Signal Hub server API", description = "Publish, send, broadcast and disconnect from a backend; read presence. Every route needs `Authorization: Bearer <api key>`; errors are `{code, message, hint}` with the codes of docs/PROTOCOL.md."),
    paths(handlers::publish, handlers::send, handlers::broadcast, handlers::disconnect,
          handlers::topics, handlers::node, handlers::batch,
          presence::presence, presence::presence_stats, presence::online,
          presence::connections, reload::reload, revoke::revoke,
          subscriptions::subscribe, subscriptions::unsubscribe),
    modifiers(&BearerKeys),
)]
pub struct ApiDoc;

struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every API route: method, path, and the route to mount.
pub fn routes() -> Vec<(Method, &'static str, Route)> {
    vec![
        (
            Method::POST,
            "/api/publish",
            web::post().to(handlers::publish),
        ),
        (Method::POST, "/api/send", web::post().to(handlers::send)),
        (
            Method::POST,
            "/api/broadcast",
            web::post().to(handlers::broadcast),
        ),
        (
            Method::POST,
            "/api/disconnect",
            web::post().to(handlers::disconnect),
        ),
        (Method::GET, "/api/topics", web::get().to(handlers::topics)),
        (Method::GET, "/api/node", web::get().to(handlers::node)),
        (
            Method::GET,
            "/api/presence",
            web::get().to(presence::presence),
        ),
        (
            Method::GET,
            "/api/presence_stats",
            web::get().to(presence::presence_stats),
        ),
        (Method::GET, "/api/online", web::get().to(presence::online)),
        (
            Method::GET,
            "/api/connections",
            web::get().to(presence::connections),
        ),
        (Method::POST, "/api/revoke", web::post().to(revoke::revoke)),
        (
            Method::POST,
            "/api/subscribe",
            web::post().to(subscriptions::subscribe),
        ),
        (
            Method::POST,
            "/api/unsubscribe",
            web::post().to(subscriptions::unsubscribe),
        ),
        (Method::POST, "/api/batch", web::post().to(handlers::batch)),
        (Method::POST, "/api/reload", web::post().to(reload::reload)),
    ]
}

/// The path of the OpenAPI document (served without a key).
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// Mounts the API: its routes, the document, and the body limit
/// (`max_body_bytes`, 413 above it) with errors in the API's format.
pub fn configure(
    cfg: &mut web::ServiceConfig,
    keys: web::Data<ApiKeys>,
    limits: ApiLimits,
    max_body_bytes: usize,
) {
    cfg.app_data(keys)
        .app_data(web::Data::new(limits))
        .app_data(web::PayloadConfig::new(max_body_bytes))
        .route(OPENAPI_PATH, web::get().to(handlers::openapi));
    for (_, path, route) in routes() {
        cfg.route(path, route);
    }
}
