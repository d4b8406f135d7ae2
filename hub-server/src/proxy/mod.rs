//! Proxies to the application's backend: HTTP POSTs of JSON, the shape
//! Centrifugo's proxy users know. The connect proxy (`connect.rs`) decides
//! a client's `hub:connect` — who it is, its grants, info, expiry, its
//! server-side topics — from what the client sent and the headers it was
//! allowed to forward.
//!
//! Every call is bounded: `proxy_timeout_ms` for the whole exchange,
//! `proxy_max_concurrency` calls in flight per proxy (one more is refused
//! at once, `unavailable`), `proxy_max_body_bytes` of answer. A backend
//! that is down, slow, busy or failing (5xx) is `unavailable` (temporary);
//! an answer that is not the documented JSON is `internal`, logged in the
//! session's span (its trace id). Each call is counted by outcome, its
//! latency in a histogram (`metrics.rs`).

mod calls;
mod connect;
mod metrics;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

pub use calls::AppBackend;
pub use connect::ConnectProxy;
pub use metrics::ProxyMetrics;

/// Adds the proxies `config` names to `builder`: the connect proxy as its
/// authenticator (connects with a token go to `tokens`), the subscribe,
/// publish and RPC proxies as its backend.
///
/// # Errors
/// A proxy URL that cannot be used.
pub fn install(
    mut builder: hub_core::HubBuilder,
    config: &crate::ServerConfig,
    tokens: Option<Arc<dyn hub_core::auth::Authenticator>>,
    metrics: Arc<ProxyMetrics>,
) -> Result<hub_core::HubBuilder, String> {
    let bounds = Bounds {
        timeout: Duration::from_millis(config.proxy_timeout_ms),
        max_concurrency: config.proxy_max_concurrency,
        max_body_bytes: config.proxy_max_body_bytes,
    };
    let proxy = |name: &'static str, url: &str| -> Result<Option<Proxy>, String> {
        if url.is_empty() {
            return Ok(None);
        }
        Proxy::new(name, url, bounds, metrics.clone()).map(Some)
    };
    if let Some(connect) = proxy("connect", &config.connect_proxy_url)? {
        builder = builder.authenticator(ConnectProxy::new(connect, tokens));
    }
    let backend = AppBackend {
        subscribe: proxy("subscribe", &config.subscribe_proxy_url)?.map(Arc::new),
        publish: proxy("publish", &config.publish_proxy_url)?.map(Arc::new),
        rpc: proxy("rpc", &config.rpc_proxy_url)?.map(Arc::new),
    };
    if backend.subscribe.is_some() || backend.publish.is_some() || backend.rpc.is_some() {
        builder = builder.backend(backend);
    }
    Ok(builder)
}

/// One proxy: where it posts, and its bounds.
#[derive(Debug)]
pub struct Proxy {
    /// `connect`, `subscribe`, `publish`, `rpc`: in logs and metrics.
    name: &'static str,
    url: reqwest::Url,
    timeout: Duration,
    max_body_bytes: usize,
    slots: Arc<Semaphore>,
    tls: Arc<rustls::ClientConfig>,
    metrics: Arc<ProxyMetrics>,
}

/// Why a call got no usable answer.
#[derive(Debug)]
pub enum Failure {
    /// `proxy_max_concurrency` calls are in flight.
    Busy,
    /// The backend is down, slow or failing: retrying later may help.
    Unavailable(String),
    /// It answered something other than the documented JSON.
    Malformed(String),
}

/// The bounds every proxy holds to (`proxy_*` keys).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// `proxy_timeout_ms`.
    pub timeout: Duration,
    /// `proxy_max_concurrency`.
    pub max_concurrency: usize,
    /// `proxy_max_body_bytes`.
    pub max_body_bytes: usize,
}

thread_local! {
    /// Each worker thread's client: its pooled connections belong to the
    /// thread's own runtime.
    static CLIENTS: std::cell::RefCell<Option<reqwest::Client>> = const { std::cell::RefCell::new(None) };
}

impl Proxy {
    /// A proxy posting to `url` (`http://` or `https://`).
    ///
    /// # Errors
    /// Not a URL of those schemes, or no TLS roots.
    pub fn new(
        name: &'static str,
        url: &str,
        bounds: Bounds,
        metrics: Arc<ProxyMetrics>,
    ) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("{name}_proxy_url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "{name}_proxy_url must be http:// or https://: {url}"
            ));
        }
        let tls = crate::tls::outbound_client_config()?;
        Ok(Self {
            name,
            url,
            timeout: bounds.timeout,
            max_body_bytes: bounds.max_body_bytes,
            slots: Arc::new(Semaphore::new(bounds.max_concurrency.max(1))),
            tls: Arc::new(tls),
            metrics,
        })
    }

    fn client(&self) -> Result<reqwest::Client, Failure> {
        CLIENTS.with(|cell| {
            let mut cell = cell.borrow_mut();
            if let Some(client) = &*cell {
                return Ok(client.clone());
            }
            let client = reqwest::Client::builder()
                .use_preconfigured_tls((*self.tls).clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Failure::Unavailable(e.to_string()))?;
            *cell = Some(client.clone());
            Ok(client)
        })
    }

    /// Posts `body` and reads the answer as `T`, within the bounds.
    pub async fn call<T: DeserializeOwned>(&self, body: &impl Serialize) -> Result<T, Failure> {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            self.metrics.outcome(self.name, "busy");
            return Err(Failure::Busy);
        };
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout, self.exchange(body)).await;
        self.metrics.latency(self.name, started.elapsed());
        let answer = match answer {
            Ok(answer) => answer,
            Err(_) => Err(Failure::Unavailable(format!(
                "no answer within proxy_timeout_ms ({} ms)",
                self.timeout.as_millis()
            ))),
        };
        let outcome = match &answer {
            Ok(_) => "answered",
            Err(Failure::Busy) => "busy",
            Err(Failure::Unavailable(_)) => "unavailable",
            Err(Failure::Malformed(_)) => "malformed",
        };
        self.metrics.outcome(self.name, outcome);
        if let Err(Failure::Malformed(why)) = &answer {
            tracing::warn!(proxy = self.name, url = %self.url, why, "proxy answer is not the documented JSON");
        }
        answer
    }

    async fn exchange<T: DeserializeOwned>(&self, body: &impl Serialize) -> Result<T, Failure> {
        let body = serde_json::to_vec(body).map_err(|e| Failure::Malformed(e.to_string()))?;
        let request = self
            .client()?
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_server_error() {
            return Err(Failure::Unavailable(format!(
                "the backend answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(Failure::Malformed(format!("the backend answered {status}")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > self.max_body_bytes {
                return Err(Failure::Malformed(format!(
                    "the answer is over proxy_max_body_bytes ({})",
                    self.max_body_bytes
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&bytes).map_err(|e| Failure::Malformed(e.to_string()))
    }
}

/// A transport failure, told to the client without its details (they
/// name the backend's address), logged here at debug.
fn unreachable(error: reqwest::Error) -> Failure {
    tracing::debug!(error = %error, "proxy call failed");
    let what = if error.is_connect() {
        "the backend could not be reached"
    } else {
        "the exchange with the backend broke off"
    };
    Failure::Unavailable(what.into())
}

/// Longest refusal message passed on to the client.
const MAX_MESSAGE_BYTES: usize = 1024;

/// Longest refusal code passed on to the client (`hub:error`'s `reason`).
const MAX_CODE_BYTES: usize = 64;

/// Every proxy's answer: `{"result": ...}` or `{"error": ...}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answered<T> {
    result: Option<T>,
    error: Option<Refused>,
}

/// The backend's refusal.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Refused {
    #[serde(default)]
    code: Option<String>,
    message: String,
}

impl<T> Answered<T> {
    /// The result, or the refusal (its message cut to 1024 bytes).
    ///
    /// # Errors
    /// Neither or both, or a code over 64 bytes: why, for the log.
    fn decided(self) -> Result<Result<T, Refused>, &'static str> {
        match (self.result, self.error) {
            (Some(result), None) => Ok(Ok(result)),
            (None, Some(mut refused)) => {
                if refused
                    .code
                    .as_ref()
                    .is_some_and(|c| c.len() > MAX_CODE_BYTES)
                {
                    return Err("the error's code is over 64 bytes");
                }
                if refused.message.len() > MAX_MESSAGE_BYTES {
                    let mut end = MAX_MESSAGE_BYTES;
                    while !refused.message.is_char_boundary(end) {
                        end -= 1;
                    }
                    refused.message.truncate(end);
                }
                Ok(Err(refused))
            }
            _ => Err("it holds neither `result` nor `error`, or both"),
        }
    }
}

/// Logs an answer that is not the documented JSON (the call's span names
/// the session and its trace id).
fn malformed(proxy: &'static str, why: &str) {
    tracing::warn!(proxy, why, "proxy answer is not the documented JSON");
}
