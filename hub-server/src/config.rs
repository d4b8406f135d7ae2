//! The server's configuration: built-in defaults, then a TOML file, then
//! `SIGNAL_HUB_*` environment variables, then command-line flags, each
//! overriding the one before. Unknown keys in the file or in `--set` are
//! errors, so a typo never silently falls back to a default. An unknown
//! `SIGNAL_HUB_*` variable is only warned about ([`unknown_env_vars`]): the
//! environment is shared with other programs, and one of theirs must not stop
//! the server.

use std::collections::BTreeSet;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::api::keys::ApiKeyConfig;

pub use crate::cli::{Cli, Command};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Where direct messages are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// In `data_dir/inbox.redb` (redb): survives restarts and `kill -9`.
    #[default]
    Disk,
    /// In memory: survives reconnects, not restarts.
    Memory,
    /// Not stored: a direct message reaches only a connected recipient.
    Off,
}

/// What carries messages between the nodes of one hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// One node, nothing outside the process.
    #[default]
    Memory,
    /// Nodes sharing the Redis at `redis_url` (Redis 7 or newer).
    Redis,
}

/// Everything the server runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Listen address. Default `127.0.0.1:8080`.
    pub bind: String,
    /// Path of the WebSocket endpoint. Default `/ws`.
    pub ws_path: String,
    /// A second listener, plain HTTP, for the operators: `/metrics`,
    /// `/admin` and the server API move there, off the public `bind` (bind
    /// it to a private interface, e.g. `127.0.0.1:9090`). Empty: everything
    /// on `bind`. Default empty.
    pub admin_bind: String,
    /// With `admin_bind`: whether the server API stays on the public
    /// listener too (for backends that reach the hub through its public
    /// address). Default true.
    pub api_on_public: bool,
    /// Whether `/admin` (the admin page) is served. Default true.
    pub admin_page: bool,
    /// HTTP worker threads; 0 means one per core. Default 0.
    pub workers: usize,
    /// Graceful shutdown deadline: sessions are told `server_shutdown` and
    /// given this long to close. Default 10000 (10 s).
    pub shutdown_timeout_ms: u64,
    /// `human` or `json`. Default `human`.
    pub log_format: LogFormat,
    /// What is logged, as `RUST_LOG` says it (`info`, `warn,hub_core=debug`).
    /// Empty: `RUST_LOG`, or `info` without it. A reload applies it.
    /// Default empty.
    pub log_level: String,
    /// HMAC secret for JWT connection auth (HS256/384/512). With a secret,
    /// a key file or a key set, every `hub:connect` needs a token whose
    /// `sub` is its address. Empty: none. Default empty.
    pub jwt_hmac_secret: String,
    /// PEM file of the public key tokens are signed for (RSA, EC or
    /// Ed25519; `jwt_algorithms` must name its algorithms). Default empty.
    pub jwt_public_key_file: String,
    /// JSON Web Key Set file; a token's `kid` picks the key
    /// (`jwt_algorithms` must name the algorithms). Default empty.
    pub jwt_jwks_file: String,
    /// URL of a JSON Web Key Set (`https://`, or `http://` on loopback):
    /// fetched at the first connect, cached, fetched again when older than
    /// `jwt_jwks_max_age_ms` and when a token names an unknown `kid` (at most
    /// once per `jwt_jwks_refetch_interval_ms`). Default empty.
    pub jwt_jwks_url: String,
    /// Least time between fetches of `jwt_jwks_url` caused by unknown `kid`s,
    /// and between retries after a failed fetch. Default 10000 (10 s).
    pub jwt_jwks_refetch_interval_ms: u64,
    /// Age after which the cached key set is fetched again. Default 300000 (5 min).
    pub jwt_jwks_max_age_ms: u64,
    /// The algorithms tokens may use, e.g. `["RS256"]`. Empty: `["HS256"]`
    /// with an HMAC secret; required with a public key or key set.
    pub jwt_algorithms: Vec<String>,
    /// Required `iss` claim. Empty: not checked. Default empty.
    pub jwt_issuer: String,
    /// Required `aud` claim. Empty: not checked. Default empty.
    pub jwt_audience: String,
    /// Clock skew allowed on `exp` and `nbf`. Default 5000 (5 s).
    pub jwt_leeway_ms: u64,
    /// After a reload changed the JWT settings, how long a token the new
    /// ones refuse is still checked against the old ones (0: not at all).
    /// Default 600000 (10 minutes).
    pub jwt_rotation_overlap_ms: u64,
    /// Run without authentication on an address other than loopback.
    /// Without a key and without this, hub-server refuses to listen there.
    /// Default false.
    pub insecure: bool,
    /// How long sent data may stay unacknowledged (including a peer that
    /// stopped reading and shows a zero window) before the kernel drops the
    /// connection (TCP_USER_TIMEOUT, Linux). 0 leaves the kernel default
    /// (which can keep such a connection for many minutes). Default 30000.
    pub tcp_user_timeout_ms: u64,
    /// Where direct messages to known addresses are stored until
    /// acknowledged: `disk`, `memory` or `off`; with `engine = "redis"`,
    /// `disk` and `memory` both store in Redis (no file). Default `disk`.
    pub durability: Durability,
    /// Directory of the on-disk store (`inbox.redb`), created if missing.
    /// Default `signal-hub-data` (relative to the working directory).
    pub data_dir: String,
    /// `memory` (one node) or `redis` (many nodes sharing `redis_url`).
    /// Default `memory`.
    pub engine: Engine,
    /// The Redis of the `redis` engine: `redis://[user:password@]host:port[/db]`,
    /// `redis-cluster://host:port?node=host:port`, or
    /// `redis-sentinel://host:port?sentinelServiceName=NAME` (the primary the
    /// sentinels name, followed through a failover); `rediss` for TLS.
    /// Default `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// PEM file of the CA certificates that sign the Redis server's
    /// certificate (a `rediss` URL). Empty: the system's trusted roots.
    /// Default empty.
    pub redis_tls_ca_file: String,
    /// PEM certificate chain this node shows when Redis asks for a client
    /// certificate (`tls-auth-clients`); with `redis_tls_key_file`. Default empty.
    pub redis_tls_cert_file: String,
    /// PEM private key of `redis_tls_cert_file`. Default empty.
    pub redis_tls_key_file: String,
    /// Put before every Redis key and channel of this hub. Default `signal-hub:`.
    pub redis_prefix: String,
    /// Bytes of publications waiting to be written to Redis; a publication
    /// past it is not carried to other nodes (`broker_dropped_total`). The
    /// same bound holds for direct messages to other nodes (refused
    /// `unavailable` past it). Default 67108864 (64 MiB).
    pub redis_publish_queue_bytes: usize,
    /// How long one Redis command may take before it counts as failed.
    /// Default 5000 (5 s).
    pub redis_command_timeout_ms: u64,
    /// Sends and `"*"` broadcasts waiting for another node's answer, at
    /// most; past it one is refused `unavailable`. Default 65536.
    pub redis_max_pending_sends: usize,
    /// Topic member changes waiting to be written to Redis, at most; past
    /// it one is dropped. Default 65536.
    pub redis_presence_queue: usize,
    /// `msg_id`s a node remembers having stored or claimed, so that a
    /// retry through it is spared the rate limit. Default 65536.
    pub redis_retry_ids: usize,
    /// Address claims and releases a node awaits from Redis at once; past
    /// it connects wait for the oldest answer. Default 1024.
    pub redis_claims_in_flight: usize,
    /// Joins and leaves a node made that Redis has not announced back yet,
    /// remembered per topic; past it the oldest is forgotten. Default 4096.
    pub redis_presence_told_later: usize,
    /// Messages from Redis waiting for the node, per connection; past it
    /// the oldest are skipped (`broker_dropped_total`). Default 16384.
    pub redis_inbound_capacity: usize,
    /// Commands waiting for a connection to Redis; past it one fails at
    /// once. Default 65536.
    pub redis_command_buffer: usize,
    /// Shards of the address directory in Redis: a Cluster spreads them
    /// over its primaries. Every node of a hub must use the same count.
    /// 0: 16 on a `redis-cluster://` URL, 1 otherwise. At most 1024.
    /// Default 0.
    pub redis_directory_shards: usize,
    /// PEM certificate chain (leaf first): with `tls_key_file`, the server
    /// speaks only TLS (`wss://`, `https://`). Empty: plain TCP. Default empty.
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`. Default empty.
    pub tls_key_file: String,
    /// Keys of the server API (`[[api_keys]]`: `name`, `key` of at least 16
    /// bytes, `scopes` among publish, send, broadcast, disconnect, read).
    /// Empty: every API request is refused (401). Default empty.
    pub api_keys: Vec<ApiKeyConfig>,
    /// Largest request body of the server API; 413 above it. Default
    /// 1048576 (1 MiB).
    pub api_max_body_bytes: usize,
    /// Requests per second one API key may make (a burst of as many); 429
    /// with `Retry-After` above it. 0: no limit. Default 1000.
    pub api_rate_per_sec: u32,
    /// Requests in one `POST /api/batch`. Default 100.
    pub api_max_batch: usize,
    /// The connect proxy: every `hub:connect` (without a token, when a JWT
    /// key is configured too) is posted to this URL, whose answer decides
    /// the client's user, grants, info, expiry and server-side topics.
    /// Empty: none. Default empty.
    pub connect_proxy_url: String,
    /// The subscribe proxy: a `hub:subscribe` (without a subscription
    /// token) to a topic whose namespace has `subscribe = "proxy"` is
    /// posted here; the answer grants it (with rights) or refuses it.
    /// Empty: none. Default empty.
    pub subscribe_proxy_url: String,
    /// The publish proxy: every `hub:publish` to a topic whose namespace
    /// has `publish = "proxy"` is posted here; the answer lets it through,
    /// replaces its payload, or refuses it. Empty: none. Default empty.
    pub publish_proxy_url: String,
    /// The RPC proxy: every `hub:rpc` is posted here and answered with its
    /// answer. Empty: `hub:rpc` is refused `no_backend`. Default empty.
    pub rpc_proxy_url: String,
    /// How long a proxy call may take, answer read; `unavailable` after.
    /// Default 1000.
    pub proxy_timeout_ms: u64,
    /// Calls one proxy may have in flight; one more is refused at once
    /// (`unavailable`). Default 256.
    pub proxy_max_concurrency: usize,
    /// Largest proxy answer read; a larger one is `internal`. Default 65536.
    pub proxy_max_body_bytes: usize,
    /// Webhooks (`webhook_*` keys).
    #[serde(flatten)]
    pub webhooks: crate::webhooks::WebhookConfig,
    /// The hub's limits and timings (top-level keys in the file and env).
    #[serde(flatten)]
    pub hub: hub_core::Config,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            ws_path: "/ws".into(),
            admin_bind: String::new(),
            api_on_public: true,
            admin_page: true,
            workers: 0,
            shutdown_timeout_ms: 10_000,
            log_format: LogFormat::Human,
            log_level: String::new(),
            jwt_hmac_secret: String::new(),
            jwt_public_key_file: String::new(),
            jwt_jwks_file: String::new(),
            jwt_jwks_url: String::new(),
            jwt_jwks_refetch_interval_ms: 10_000,
            jwt_jwks_max_age_ms: 300_000,
            jwt_algorithms: Vec::new(),
            jwt_issuer: String::new(),
            jwt_audience: String::new(),
            jwt_leeway_ms: 5_000,
            jwt_rotation_overlap_ms: 600_000,
            insecure: false,
            tcp_user_timeout_ms: 30_000,
            durability: Durability::Disk,
            data_dir: "signal-hub-data".into(),
            engine: Engine::Memory,
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_tls_ca_file: String::new(),
            redis_tls_cert_file: String::new(),
            redis_tls_key_file: String::new(),
            redis_prefix: "signal-hub:".into(),
            redis_publish_queue_bytes: 64 * 1024 * 1024,
            redis_command_timeout_ms: 5_000,
            redis_max_pending_sends: 65_536,
            redis_presence_queue: 65_536,
            redis_retry_ids: 65_536,
            redis_claims_in_flight: 1_024,
            redis_presence_told_later: 4_096,
            redis_inbound_capacity: 16_384,
            redis_command_buffer: 65_536,
            redis_directory_shards: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            api_keys: Vec::new(),
            api_max_body_bytes: 1024 * 1024,
            api_rate_per_sec: 1000,
            api_max_batch: 100,
            connect_proxy_url: String::new(),
            subscribe_proxy_url: String::new(),
            publish_proxy_url: String::new(),
            rpc_proxy_url: String::new(),
            proxy_timeout_ms: 1_000,
            proxy_max_concurrency: 256,
            proxy_max_body_bytes: 65_536,
            webhooks: crate::webhooks::WebhookConfig::default(),
            hub: hub_core::Config::default(),
        }
    }
}

impl ServerConfig {
    /// The config as TOML, for `--print-config`, with its secrets (the JWT
    /// HMAC secret, every API key) shown as `<redacted>`: printed config
    /// ends up in terminals, tickets and CI logs.
    ///
    /// # Errors
    /// The config cannot be written as TOML.
    pub fn to_printable_toml(&self) -> Result<String, String> {
        const REDACTED: &str = "<redacted>";
        let mut value = toml::Value::try_from(self).map_err(|e| e.to_string())?;
        if let Some(table) = value.as_table_mut() {
            if let Some(secret) = table.get_mut("jwt_hmac_secret") {
                if secret.as_str().is_some_and(|s| !s.is_empty()) {
                    *secret = toml::Value::String(REDACTED.into());
                }
            }
            if let Some(keys) = table.get_mut("api_keys").and_then(|k| k.as_array_mut()) {
                for key in keys.iter_mut().filter_map(|k| k.as_table_mut()) {
                    key.insert("key".into(), toml::Value::String(REDACTED.into()));
                }
            }
        }
        toml::to_string_pretty(&value).map_err(|e| e.to_string())
    }

    /// Builds the effective configuration from `cli`, the file it names and the environment.
    ///
    /// # Errors
    /// An unreadable file, an unknown key, a value of the wrong type or an invalid limit.
    pub fn load(cli: &Cli) -> Result<Self, String> {
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(path) = &cli.config {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            figment = figment.merge(Toml::file(path));
        }
        let known = known_keys();
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .filter(move |key| known.contains(&key.as_str().to_ascii_lowercase())),
        );
        for (key, list) in crate::config_env::comma_lists() {
            figment = figment.merge((key, list));
        }
        for item in &cli.overrides {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("--set expects KEY=VALUE, got `{item}`"))?;
            let value: Value = value.parse().unwrap_or_else(|never| match never {});
            figment = figment.merge((key.trim(), value));
        }
        if let Some(bind) = &cli.bind {
            figment = figment.merge(("bind", bind));
        }
        if cli.log_json {
            figment = figment.merge(("log_format", "json"));
        }
        reject_unknown_keys(&figment)?;
        // The hub's keys first, on their own: through `flatten` figment loses
        // the key path, and an error that names no key is no help.
        figment
            .extract::<hub_core::Config>()
            .map_err(crate::config_errors::describe)?;
        let config: ServerConfig = figment.extract().map_err(crate::config_errors::describe)?;
        config.hub.validate().map_err(|e| e.to_string())?;
        for (key, value) in [
            ("api_max_body_bytes", config.api_max_body_bytes),
            ("api_max_batch", config.api_max_batch),
            ("redis_max_pending_sends", config.redis_max_pending_sends),
            ("redis_presence_queue", config.redis_presence_queue),
            ("redis_retry_ids", config.redis_retry_ids),
            ("redis_claims_in_flight", config.redis_claims_in_flight),
            (
                "redis_presence_told_later",
                config.redis_presence_told_later,
            ),
            ("redis_inbound_capacity", config.redis_inbound_capacity),
            ("redis_command_buffer", config.redis_command_buffer),
        ] {
            if value == 0 {
                return Err(format!("{key} must be greater than 0"));
            }
        }
        crate::api::keys::ApiKeys::new(&config.api_keys, config.api_rate_per_sec)?;
        config.webhooks.check()?;
        crate::telemetry::filter(&config.log_level)?;
        Ok(config)
    }
}

impl ServerConfig {
    /// The Redis engine's options, from the self.
    pub(crate) fn redis_options(&self) -> hub_core::redis::RedisOptions {
        hub_core::redis::RedisOptions {
            url: self.redis_url.clone(),
            tls: hub_core::redis::RedisTls {
                ca_file: path_of(&self.redis_tls_ca_file),
                cert_file: path_of(&self.redis_tls_cert_file),
                key_file: path_of(&self.redis_tls_key_file),
            },
            prefix: self.redis_prefix.clone(),
            publish_queue_bytes: self.redis_publish_queue_bytes,
            command_timeout: std::time::Duration::from_millis(self.redis_command_timeout_ms),
            max_pending_sends: self.redis_max_pending_sends,
            presence_queue: self.redis_presence_queue,
            retry_ids: self.redis_retry_ids,
            claims_in_flight: self.redis_claims_in_flight as u64,
            presence_told_later: self.redis_presence_told_later as u64,
            inbound_capacity: self.redis_inbound_capacity,
            command_buffer: self.redis_command_buffer,
            directory_shards: self.redis_directory_shards,
        }
    }
}

/// An empty config value is no file.
fn path_of(value: &str) -> Option<std::path::PathBuf> {
    (!value.is_empty()).then(|| value.into())
}

pub use crate::config_env::{stranger_with_suggestion, unknown_env_vars};

/// The prefix of the environment variables the server reads:
/// `SIGNAL_HUB_<KEY>` sets config key `<key>`.
pub const ENV_PREFIX: &str = "SIGNAL_HUB_";

/// Every config key.
pub(crate) fn known_keys() -> BTreeSet<String> {
    match Value::serialize(ServerConfig::default()) {
        Ok(Value::Dict(_, dict)) => dict.into_keys().collect(),
        _ => BTreeSet::new(),
    }
}

fn reject_unknown_keys(figment: &Figment) -> Result<(), String> {
    let known = known_keys();
    let given: Dict = figment.extract().map_err(|e| e.to_string())?;
    let unknown: Vec<_> = given.keys().filter(|k| !known.contains(*k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(format!(
        "unknown config key(s): {}; run with --print-config to see every key",
        unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
