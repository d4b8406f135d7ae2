//! The hub a config asks for: its authenticator (rotating JWT keys, or the
//! connect proxy), the backend's proxies, the inbox store of its
//! durability and engine, the Redis engine, and webhooks — started.

use actix_web::web;
use hub_core::Hub;

use crate::config::{Durability, Engine, ServerConfig};
use crate::{proxy, reload, webhooks};

/// A started hub and what the server keeps of its making.
pub(crate) struct Assembled {
    pub(crate) hub: Hub,
    /// The JWT authenticator, whose keys a reload replaces.
    pub(crate) rotating: Option<reload::RotatingAuth>,
    pub(crate) proxy_metrics: web::Data<proxy::ProxyMetrics>,
    pub(crate) webhook_metrics: web::Data<webhooks::WebhookMetrics>,
    /// The webhooks' thread, stopped at shutdown.
    pub(crate) webhooks: Option<webhooks::WebhookThread>,
}

/// Builds and starts the hub `config` asks for, `jwt` its token checker.
///
/// # Errors
/// A part of the config cannot be used (a store that does not open, a
/// proxy or webhook setting that is wrong, an invalid hub config).
pub(crate) fn hub(
    config: &ServerConfig,
    jwt: Option<hub_core::auth::jwt::JwtAuth>,
) -> std::io::Result<Assembled> {
    let mut builder = Hub::builder(config.hub.clone());
    let rotating = jwt.map(reload::RotatingAuth::new);
    let proxy_metrics = web::Data::new(proxy::ProxyMetrics::default());
    let tokens = rotating
        .clone()
        .map(|r| std::sync::Arc::new(r) as std::sync::Arc<dyn hub_core::auth::Authenticator>);
    builder = proxy::install(builder, config, tokens, proxy_metrics.clone().into_inner())
        .map_err(std::io::Error::other)?;
    if config.connect_proxy_url.is_empty() {
        if let Some(rotating) = &rotating {
            builder = builder.authenticator(rotating.clone());
        }
    }
    builder = match config.durability {
        Durability::Off => builder,
        // With Redis the hub's inboxes and histories live there: no file.
        _ if config.engine == Engine::Redis => {
            builder.inbox_store(hub_core::durable::MemoryInboxStore::new())
        }
        Durability::Memory => builder.inbox_store(hub_core::durable::MemoryInboxStore::new()),
        Durability::Disk => {
            let path = std::path::Path::new(&config.data_dir).join("inbox.redb");
            let store = hub_core::durable::RedbInboxStore::open(&path)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            #[cfg(feature = "faults")]
            if let Some(delay) = crate::faults::commit_delay() {
                builder.inbox_store(crate::faults::SlowCommits {
                    inner: store,
                    delay,
                })
            } else {
                builder.inbox_store(store)
            }
            #[cfg(not(feature = "faults"))]
            builder.inbox_store(store)
        }
    };
    if config.engine == Engine::Redis {
        builder = builder.redis(config.redis_options());
    }
    let webhook_metrics = web::Data::new(webhooks::WebhookMetrics::default());
    let on_disk =
        (config.durability == Durability::Disk).then(|| std::path::Path::new(&config.data_dir));
    let hooks = webhooks::Webhooks::start(
        &config.webhooks,
        on_disk,
        config.engine != Engine::Redis,
        webhook_metrics.clone().into_inner(),
    )
    .map_err(std::io::Error::other)?;
    let webhooks = match hooks {
        Some((sink, thread)) => {
            builder = builder.lifecycle(sink);
            Some(thread)
        }
        None => None,
    };
    let hub = builder.start().map_err(std::io::Error::other)?;
    Ok(Assembled {
        hub,
        rotating,
        proxy_metrics,
        webhook_metrics,
        webhooks,
    })
}
