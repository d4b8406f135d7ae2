//! What each listener serves. Without `admin_bind`, one listener (`bind`)
//! serves everything. With it, the operators' surface — `/metrics`,
//! `/admin` and the server API — moves to a second, plain-HTTP listener
//! meant for a private interface; the public one keeps the clients'
//! routes (`/ws`, `/sse`), `/health`, `/ready`, and the API only while
//! `api_on_public` is true (backends that reach the hub through its public
//! address). `admin_page = false` turns the page off everywhere.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use hub_core::Hub;
use serde_json::json;

use crate::api::keys::ApiKeys;
use crate::api::ApiLimits;
use crate::{admin, api, reload, request_log, routes, ServerConfig};

/// What one listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Surface {
    /// `/ws`, `/sse`: the clients.
    clients: bool,
    metrics: bool,
    admin_page: bool,
    api: bool,
}

impl Surface {
    /// The listener at `bind`.
    pub(crate) fn public(config: &ServerConfig) -> Self {
        let split = !config.admin_bind.is_empty();
        Self {
            clients: true,
            metrics: !split,
            admin_page: !split && config.admin_page,
            api: !split || config.api_on_public,
        }
    }

    /// The listener at `admin_bind`.
    pub(crate) fn admin(config: &ServerConfig) -> Self {
        Self {
            clients: false,
            metrics: true,
            admin_page: config.admin_page,
            api: true,
        }
    }
}

/// What every listener's app shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) hub: Hub,
    pub(crate) reloader: web::Data<reload::Reloader>,
    pub(crate) keys: web::Data<ApiKeys>,
    pub(crate) limits: ApiLimits,
    pub(crate) api_max_body: usize,
    pub(crate) ws_path: String,
    pub(crate) proxy_metrics: web::Data<crate::proxy::ProxyMetrics>,
    pub(crate) webhook_metrics: web::Data<crate::webhooks::WebhookMetrics>,
}

impl Shared {
    /// The app of a listener serving `surface`.
    pub(crate) fn app(
        &self,
        surface: Surface,
    ) -> App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let shared = self.clone();
        let index = self.index(surface);
        App::new()
            .app_data(web::Data::new(self.hub.clone()))
            .app_data(self.reloader.clone())
            .app_data(self.proxy_metrics.clone())
            .app_data(self.webhook_metrics.clone())
            .configure(move |cfg| {
                if surface.clients {
                    routes::configure(cfg, &shared.ws_path);
                } else {
                    routes::configure_health(cfg);
                }
                if surface.metrics {
                    routes::configure_metrics(cfg);
                }
                if surface.api {
                    let (keys, limits) = (shared.keys.clone(), shared.limits.clone());
                    api::configure(cfg, keys, limits, shared.api_max_body);
                }
                if surface.admin_page {
                    admin::configure(cfg);
                }
                routes::configure_index(cfg, index);
            })
            .wrap(actix_web::middleware::from_fn(request_log::trace_requests))
    }

    /// `GET /`'s answer: the routes this listener serves.
    fn index(&self, surface: Surface) -> serde_json::Value {
        let mut routes = serde_json::Map::new();
        if surface.clients {
            routes.insert("websocket".into(), json!(self.ws_path));
            routes.insert("sse".into(), json!("/sse"));
        }
        routes.insert("health".into(), json!("/health"));
        routes.insert("ready".into(), json!("/ready"));
        if surface.metrics {
            routes.insert("metrics".into(), json!("/metrics"));
        }
        if surface.api {
            routes.insert("api".into(), json!(api::OPENAPI_PATH));
        }
        if surface.admin_page {
            routes.insert("admin".into(), json!("/admin"));
        }
        json!({
            "service": "signal-hub",
            "version": env!("CARGO_PKG_VERSION"),
            "routes": routes,
            "docs": "docs/PROTOCOL.md in the repository",
        })
    }
}
