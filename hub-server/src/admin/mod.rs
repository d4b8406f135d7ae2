//! `/admin`: an operator's page, served from files built into the binary
//! (no second server, nothing to install). The page holds no data and no
//! secret: it asks for an API key (the admin token) and reads and acts
//! through the server API with it, so every figure and every action is
//! behind the key's scopes (`read` to watch, `disconnect` and `publish` to
//! act), as the API checks them.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const INDEX: &str = include_str!("index.html");
const SCRIPT: &str = include_str!("admin.js");
const STYLE: &str = include_str!("admin.css");

/// Only the page's own files; no inline script, no other origin.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      connect-src 'self'; img-src 'self'; base-uri 'none'; \
                      form-action 'none'; frame-ancestors 'none'";

/// Mounts `/admin` and its two assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/admin",
        web::get().to(|| serve(INDEX, "text/html; charset=utf-8")),
    )
    .route(
        "/admin/",
        web::get().to(|| serve(INDEX, "text/html; charset=utf-8")),
    )
    .route(
        "/admin/admin.js",
        web::get().to(|| serve(SCRIPT, "text/javascript; charset=utf-8")),
    )
    .route(
        "/admin/admin.css",
        web::get().to(|| serve(STYLE, "text/css; charset=utf-8")),
    );
}

async fn serve(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}
