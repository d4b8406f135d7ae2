//! # hub-server
//!
//! A thin server around hub-core: configuration, routes, logs and graceful
//! shutdown. HTTP is actix-http's HTTP/1 service serving an actix-web `App`;
//! WebSocket upgrades go to the hub's own transport
//! (`hub_core::transport::upgrade_service`). `main.rs` parses flags and runs [`run_until_signal`]; tests use
//! [`spawn`] to run a real server on an OS-assigned port in-process.
//!
//! ## Layout
//! - `cli` — the flags and commands of the `hub-server` binary
//! - `config` — defaults ← TOML ← `SIGNAL_HUB_*` env ← flags; `config_env`
//!   (lists and unknown names in the environment) and `config_errors`
//!   (errors with the key's path, in words) beside it
//! - `auth` — JWT auth from the config, the rule against running open on a
//!   public address, development tokens
//! - `genconfig` — the commented default config file (`hub-server genconfig`)
//! - `starter` — a small config with fresh secrets (`genconfig --starter`)
//! - `healthcheck` — `hub-server healthcheck`: is the local server ready?
//! - `jwks` — fetching a key set from `jwt_jwks_url`
//! - `assembled` — the hub a config asks for (authenticator, proxies, inbox
//!   store, engine, webhooks), started
//! - `proxy` — calls to the application's backend (connect, subscribe,
//!   publish and RPC proxies)
//! - `webhooks` — lifecycle events posted, signed, to the application
//! - `reload` — what a reload (SIGHUP, `POST /api/reload`) changes in place
//! - `request_log` — a span with the trace id around every HTTP request
//! - `routes` — `/ws`, `/sse`, `/health`, `/ready`, `/metrics`, `/`
//! - `listeners` — which listener (`bind`, `admin_bind`) serves which routes
//! - `spawned` — a server on a thread of its own, for tests and tools
//! - `process_metrics` — RSS, open files, CPU from /proc for `/metrics`
//! - `admin` — the `/admin` page (files built in; works through the API)
//! - `api` — the server API for backends (`/api/...`, API keys, OpenAPI)
//! - `telemetry` — tracing-subscriber setup, human or JSON
//! - `tls` — TLS termination (rustls) when a certificate is configured

pub mod admin;
pub mod api;
mod assembled;
pub mod auth;
mod cli;
pub mod config;
mod config_env;
mod config_errors;
#[cfg(target_os = "linux")]
#[cfg(feature = "faults")]
mod faults;
pub mod genconfig;
pub mod healthcheck;
pub mod jwks;
mod listeners;
mod process_metrics;
pub mod proxy;
pub mod reload;
pub mod request_log;
pub mod routes;
mod spawned;
pub mod starter;
pub mod telemetry;
pub mod tls;
pub mod webhooks;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_http::{error::DispatchError, HttpService};
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, ServerHandle};
use actix_web::rt::net::TcpStream;
use actix_web::web;
use hub_core::Hub;

pub use config::{Cli, Durability, Engine, LogFormat, ServerConfig};
pub use spawned::{spawn, SpawnedServer};

/// A server started on the current actix system.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The admin listener's address (`admin_bind`), if there is one.
    pub admin_addr: Option<SocketAddr>,
    /// The hub, for the embedding code.
    pub hub: Hub,
    /// Applies a config read again (SIGHUP, `POST /api/reload`).
    pub reloader: web::Data<reload::Reloader>,
    http: ServerHandle,
    /// Stopped once the sessions are gone (their last events queued).
    webhooks: Option<webhooks::WebhookThread>,
    shutdown_timeout: Duration,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the hub and the HTTP server on the current actix system.
///
/// # Errors
/// The address cannot be bound or the hub config is invalid.
pub fn start(config: &ServerConfig) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(&config.bind)?;
    start_on(config, listener)
}

/// What `hub-server check-config` checks beyond loading the keys: the files
/// the configuration names (TLS certificate and key, JWT keys, the store)
/// can be used, and the store is not in use by another server.
/// Returns a one-line summary of what the server would run with.
///
/// # Errors
/// Why the server would not start.
pub fn check_config(config: &ServerConfig) -> Result<String, String> {
    let jwt = auth::authenticator(config)?;
    // The rule against serving open on a public address, as `start_on`
    // applies it to the address it binds.
    use std::net::ToSocketAddrs;
    let addrs = config.bind.as_str().to_socket_addrs();
    let addrs = addrs.map_err(|e| format!("bind {}: {e}", config.bind))?;
    for addr in addrs {
        auth::check_exposure(
            config,
            jwt.is_some() || !config.connect_proxy_url.is_empty(),
            addr,
        )?;
    }
    let tls = match (config.tls_cert_file.as_str(), config.tls_key_file.as_str()) {
        ("", "") => false,
        ("", _) | (_, "") => {
            return Err("set both tls_cert_file and tls_key_file, or neither".into())
        }
        (cert, key) => {
            tls::server_config(cert.as_ref(), key.as_ref())?;
            true
        }
    };
    if config.engine == Engine::Redis {
        config.redis_options().check()?;
    } else if config.durability == Durability::Disk {
        let path = std::path::Path::new(&config.data_dir).join("inbox.redb");
        hub_core::durable::RedbInboxStore::check(&path).map_err(|e| e.to_string())?;
    }
    Ok(format!(
        "config ok: bind {}, engine {}, durability {}, tls {}, authentication {}",
        config.bind,
        format!("{:?}", config.engine).to_lowercase(),
        format!("{:?}", config.durability).to_lowercase(),
        if tls { "on" } else { "off" },
        if jwt.is_some() { "jwt" } else { "off" },
    ))
}

/// Like [`start`], on an already bound listener.
///
/// # Errors
/// The hub config is invalid or the listener unusable.
pub fn start_on(config: &ServerConfig, listener: TcpListener) -> std::io::Result<RunningServer> {
    start_reloadable(config, listener, None)
}

/// Like [`start_on`]; a reload reads the config from `source` (the file,
/// environment and flags the server started with), or without one applies
/// the config in force again (reading its files again).
///
/// # Errors
/// The hub config is invalid or the listener unusable.
pub fn start_reloadable(
    config: &ServerConfig,
    listener: TcpListener,
    source: Option<reload::Source>,
) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let jwt = auth::authenticator(config).map_err(std::io::Error::other)?;
    auth::check_exposure(
        config,
        jwt.is_some() || !config.connect_proxy_url.is_empty(),
        addr,
    )
    .map_err(std::io::Error::other)?;
    let assembled::Assembled {
        hub,
        rotating,
        proxy_metrics,
        webhook_metrics,
        webhooks,
    } = assembled::hub(config, jwt)?;
    let api_keys = web::Data::new(
        api::keys::ApiKeys::new(&config.api_keys, config.api_rate_per_sec)
            .map_err(std::io::Error::other)?,
    );
    let tcp_user_timeout_ms = config.tcp_user_timeout_ms;
    let certificate = match (config.tls_cert_file.as_str(), config.tls_key_file.as_str()) {
        ("", "") => None,
        ("", _) | (_, "") => {
            return Err(std::io::Error::other(
                "set both tls_cert_file and tls_key_file, or neither",
            ))
        }
        (cert, key) => Some(
            tls::Certificate::load(cert.as_ref(), key.as_ref()).map_err(std::io::Error::other)?,
        ),
    };
    let reloader = web::Data::new(
        reload::Reloader::new(
            config.clone(),
            certificate.clone(),
            rotating,
            api_keys.clone(),
            hub.clone(),
        )
        .with_source(source),
    );
    let shared = listeners::Shared {
        hub: hub.clone(),
        reloader: reloader.clone(),
        keys: api_keys,
        limits: api::ApiLimits {
            max_batch: config.api_max_batch,
        },
        api_max_body: config.api_max_body_bytes,
        ws_path: config.ws_path.clone(),
        proxy_metrics,
        webhook_metrics,
    };
    let admin_listener = match config.admin_bind.as_str() {
        "" => None,
        bind => Some(
            TcpListener::bind(bind)
                .map_err(|e| std::io::Error::new(e.kind(), format!("admin_bind {bind}: {e}")))?,
        ),
    };
    let admin_addr = admin_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let tls = match &certificate {
        None => None,
        Some(certificate) => Some(tokio_rustls::TlsAcceptor::from(
            certificate.server_config().map_err(std::io::Error::other)?,
        )),
    };
    let handshake_timeout = config.hub.connect_timeout();
    let builder = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(config.shutdown_timeout_ms.div_ceil(1000).max(1))
        // The accept loop's own per-worker cap must not undercut
        // `max_connections`; the margin keeps /health and /metrics reachable
        // (and refusals answered) when the hub is full.
        .max_concurrent_connections(config.hub.max_connections.saturating_add(1024));
    let (public, admin_surface) = (
        listeners::Surface::public(config),
        listeners::Surface::admin(config),
    );
    let public_shared = shared.clone();
    let app = move || {
        let shared = &public_shared;
        let app = shared.app(public);
        (
            shared.hub.clone(),
            shared.ws_path.clone(),
            map_config(app, |_| AppConfig::default()),
        )
    };
    let mut server = match tls {
        None => builder.listen("signal-hub", listener, move || {
            let (hub, ws_path, app) = app();
            // WebSocket upgrades leave the HTTP/1 dispatcher for the hub's
            // own transport; every other request goes to the app.
            let http = HttpService::build()
                .upgrade(hub_core::transport::upgrade_service(hub, &ws_path))
                .h1(app);
            fn_service(move |io: TcpStream| {
                set_socket_options(&io, tcp_user_timeout_ms);
                let peer = io.peer_addr().ok();
                std::future::ready(Ok::<_, DispatchError>((io, peer)))
            })
            .and_then(http)
        })?,
        Some(acceptor) => builder.listen("signal-hub-tls", listener, move || {
            let (hub, ws_path, app) = app();
            let http = HttpService::build()
                .upgrade(hub_core::transport::upgrade_service(hub, &ws_path))
                .h1(app);
            let acceptor = acceptor.clone();
            fn_service(move |io: TcpStream| {
                set_socket_options(&io, tcp_user_timeout_ms);
                let peer = io.peer_addr().ok();
                let handshake = acceptor.accept(io);
                async move {
                    // A client that never finishes its handshake is cut off
                    // like one that never sends hub:connect.
                    match tokio::time::timeout(handshake_timeout, handshake).await {
                        Ok(Ok(tls)) => Ok((tls, peer)),
                        Ok(Err(e)) => Err(DispatchError::Io(e)),
                        Err(_) => Err(DispatchError::SlowRequestTimeout),
                    }
                }
            })
            .and_then(http)
        })?,
    };
    if let Some(listener) = admin_listener {
        server = server.listen("signal-hub-admin", listener, move || {
            let app = map_config(shared.app(admin_surface), |_| AppConfig::default());
            let http = HttpService::build().h1(app);
            fn_service(move |io: TcpStream| {
                let peer = io.peer_addr().ok();
                std::future::ready(Ok::<_, DispatchError>((io, peer)))
            })
            .and_then(http)
        })?;
    }
    if config.workers > 0 {
        server = server.workers(config.workers);
    }
    let server = server.run();
    let http = server.handle();
    let done = actix_rt::spawn(server);
    Ok(RunningServer {
        addr,
        admin_addr,
        hub,
        reloader,
        http,
        webhooks,
        shutdown_timeout: Duration::from_millis(config.shutdown_timeout_ms),
        done,
    })
}

impl RunningServer {
    /// Stops at once, as a crash would: no `server_shutdown`, connections just drop.
    pub async fn abort(self) {
        self.http.stop(false).await;
        let _ = self.done.await;
        if let Some(webhooks) = self.webhooks {
            webhooks.stop();
        }
        tracing::warn!("server aborted");
    }

    /// Graceful shutdown: tell every session `server_shutdown`, wait for them
    /// to close (up to `shutdown_timeout_ms`), stop HTTP. While the sessions
    /// drain, HTTP still answers: `/ready` says 503, and a new upgrade gets
    /// 503 `shutting_down`, so balancers and clients learn to go elsewhere
    /// instead of meeting a refused connection.
    pub async fn shutdown(self) {
        let left = self.hub.drain(self.shutdown_timeout).await;
        if left > 0 {
            tracing::warn!(
                sessions = left,
                "shutdown deadline passed with sessions still open"
            );
        }
        self.http.stop(false).await;
        let _ = self.done.await;
        if let Some(webhooks) = self.webhooks {
            webhooks.stop();
        }
        tracing::info!("server stopped");
    }
}

/// Runs until SIGINT or SIGTERM, then shuts down gracefully. On SIGHUP it
/// reads the config again from `source` and applies what may change (see
/// [`reload`]); a reload that cannot be applied is logged and changes
/// nothing.
///
/// # Errors
/// The server could not start.
pub async fn run_until_signal(
    config: ServerConfig,
    source: Option<reload::Source>,
) -> std::io::Result<()> {
    raise_fd_limit();
    let listener = TcpListener::bind(&config.bind)?;
    let server = start_reloadable(&config, listener, source)?;
    if !server.hub.auth_enforced() {
        tracing::warn!("authentication is OFF: any client may connect under any address");
    }
    tracing::info!(addr = %server.addr, ws_path = %config.ws_path, "signal hub listening");
    if let Some(admin) = server.admin_addr {
        tracing::info!(addr = %admin, "admin listener: /metrics, /admin and the API");
    }
    let reloads = actix_rt::spawn(reload::on_hangup(server.reloader.clone()));
    shutdown_signal().await;
    reloads.abort();
    tracing::info!("shutdown signal received; draining");
    server.shutdown().await;
    Ok(())
}

fn set_socket_options(stream: &actix_web::rt::net::TcpStream, tcp_user_timeout_ms: u64) {
    // Real-time traffic is many small frames: Nagle's algorithm would hold
    // them back for up to a delayed-ACK period (~40 ms on Linux).
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    if tcp_user_timeout_ms == 0 {
        return;
    }
    // A client that stops reading would otherwise hold its socket (and the
    // server's buffers for it) as long as the kernel keeps probing.
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    if let Err(e) = socket2::SockRef::from(stream)
        .set_tcp_user_timeout(Some(Duration::from_millis(tcp_user_timeout_ms)))
    {
        tracing::debug!(error = %e, "could not set TCP_USER_TIMEOUT");
    }
}

/// Every connection is a file descriptor: lift the soft limit to the hard one.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
