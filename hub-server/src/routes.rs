//! HTTP routes: the WebSocket endpoint, the SSE transport, liveness,
//! readiness, metrics, and an index at `/`.

use actix_web::{web, HttpResponse};
use hub_core::Hub;

/// Mounts every route on an app. WebSocket upgrades never reach the app in
/// hub-server (actix-http hands them to `hub_core::transport`); `ws_endpoint`
/// at `ws_path` answers the requests to that path that are not upgrades, with
/// `bad_handshake`, and serves upgrades if the app is mounted elsewhere.
pub fn configure(cfg: &mut web::ServiceConfig, ws_path: &str) {
    cfg.route(ws_path, web::get().to(hub_core::ws_endpoint))
        .route("/sse", web::get().to(hub_core::sse_endpoint))
        .route("/sse/{key}", web::post().to(hub_core::sse_command_endpoint));
    configure_health(cfg);
}

/// `/health` and `/ready`, on every listener.
pub fn configure_health(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready));
}

/// `/metrics`, on the admin listener when there is one.
pub fn configure_metrics(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

/// `GET /`: what this listener serves and where, so that a person who
/// opens the server's address in a browser, or curls it, is not met by an
/// empty 404.
pub fn configure_index(cfg: &mut web::ServiceConfig, index: serde_json::Value) {
    cfg.route(
        "/",
        web::get().to(move || {
            let index = index.clone();
            async move { HttpResponse::Ok().json(index) }
        }),
    );
}

/// Liveness: the process answers HTTP.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: 200 while this node should get new clients; 503 with the
/// reason once draining for shutdown (`"status": "draining"`) or while it
/// cannot reach the other nodes (`"status": "unavailable"`: Redis away).
async fn ready(hub: web::Data<Hub>) -> HttpResponse {
    match hub.unready_reason() {
        None => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Some(_) if hub.is_draining() => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "draining" }))
        }
        Some(reason) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": reason })),
    }
}

/// Every metric, in the Prometheus text format (0.0.4): the hub's under
/// `signal_hub_`, the process's under `process_`.
async fn metrics(
    hub: web::Data<Hub>,
    proxies: Option<web::Data<crate::proxy::ProxyMetrics>>,
    webhooks: Option<web::Data<crate::webhooks::WebhookMetrics>>,
) -> HttpResponse {
    use prometheus_client::encoding::prometheus_text::{encode, CONTENT_TYPE};
    use prometheus_client::registry::Registry;
    let mut registry = Registry::default();
    registry
        .sub_registry_with_prefix("signal_hub")
        .register_collector(Box::new(hub.metrics_collector()));
    if let Some(proxies) = proxies {
        proxies.register(registry.sub_registry_with_prefix("signal_hub"));
    }
    if let Some(webhooks) = webhooks {
        webhooks.register(registry.sub_registry_with_prefix("signal_hub"));
    }
    #[cfg(target_os = "linux")]
    registry.register_collector(Box::new(crate::process_metrics::ProcessCollector));
    let mut body = String::with_capacity(16 * 1024);
    match encode(&mut body, &registry) {
        Ok(()) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(body),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
