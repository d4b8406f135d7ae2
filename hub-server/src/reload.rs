//! Reload: the config read again (SIGHUP, `POST /api/reload`) and what may
//! change applied in place, without dropping anyone.
//!
//! What a reload may change: the TLS certificate and key (read again on
//! every reload, so files rotated at the same path are taken), the JWT
//! settings (the old ones still accept tokens for `jwt_rotation_overlap_ms`),
//! the API keys and their rate, the log level, the per-IP connection limits. A reload that changes
//! anything else is refused whole, naming each setting that needs a
//! restart, and so is one whose files cannot be used: nothing is applied
//! unless everything can be.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use serde_json::{Map, Value};

use crate::api::keys::ApiKeys;
use crate::config::ServerConfig;
use crate::tls::Certificate;

mod auth;
pub use auth::RotatingAuth;

/// Settings a reload applies; every other one needs a restart.
const RELOADABLE: &[&str] = &[
    "tls_cert_file",
    "tls_key_file",
    "jwt_hmac_secret",
    "jwt_public_key_file",
    "jwt_jwks_file",
    "jwt_jwks_url",
    "jwt_jwks_refetch_interval_ms",
    "jwt_jwks_max_age_ms",
    "jwt_algorithms",
    "jwt_issuer",
    "jwt_audience",
    "jwt_leeway_ms",
    "jwt_rotation_overlap_ms",
    "api_keys",
    "api_rate_per_sec",
    "log_level",
    "connection_rate_per_ip",
    "max_connections_per_ip",
];

/// Where a reload reads the config again: the file, the environment and
/// the flags the server started with.
pub type Source = Box<dyn Fn() -> Result<ServerConfig, String> + Send + Sync>;

/// What a reload changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    /// The settings whose values changed.
    pub changed: Vec<String>,
    /// Whether the TLS certificate and key were read again.
    pub certificate: bool,
}

/// See the module docs. One per server.
pub struct Reloader {
    running: Mutex<ServerConfig>,
    source: Option<Source>,
    certificate: Option<Arc<Certificate>>,
    auth: Option<RotatingAuth>,
    api_keys: web::Data<ApiKeys>,
    hub: hub_core::Hub,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloader").finish_non_exhaustive()
    }
}

impl Reloader {
    pub(crate) fn new(
        running: ServerConfig,
        certificate: Option<Arc<Certificate>>,
        auth: Option<RotatingAuth>,
        api_keys: web::Data<ApiKeys>,
        hub: hub_core::Hub,
    ) -> Self {
        Self {
            running: Mutex::new(running),
            source: None,
            certificate,
            auth,
            api_keys,
            hub,
        }
    }

    /// Reads the config from `source` on each [`Self::reload`] (without
    /// one, a reload applies the config in force again: files are read
    /// again).
    pub(crate) fn with_source(mut self, source: Option<Source>) -> Self {
        self.source = source;
        self
    }

    /// Reads the config again and applies it.
    ///
    /// # Errors
    /// Why nothing was applied: the config does not load, a setting that
    /// needs a restart changed, or a file it names cannot be used.
    pub fn reload(&self) -> Result<Reloaded, String> {
        let next = match &self.source {
            Some(source) => source()?,
            None => self.running().clone(),
        };
        self.apply(next)
    }

    /// Applies `next` (all of it, or nothing).
    ///
    /// # Errors
    /// As [`Self::reload`].
    pub fn apply(&self, next: ServerConfig) -> Result<Reloaded, String> {
        let mut running = self.running();
        let changed = changed_settings(&running, &next)?;
        let fixed: Vec<&str> = changed
            .iter()
            .map(String::as_str)
            .filter(|key| !RELOADABLE.contains(key))
            .collect();
        if !fixed.is_empty() {
            return Err(format!(
                "{} cannot change without a restart; nothing was reloaded",
                fixed.join(", ")
            ));
        }
        if (running.tls_cert_file.is_empty()) != (next.tls_cert_file.is_empty()) {
            return Err(
                "TLS cannot be turned on or off without a restart (tls_cert_file, tls_key_file); \
                 nothing was reloaded"
                    .into(),
            );
        }
        let jwt = crate::auth::authenticator(&next)?;
        if jwt.is_some() != self.auth.is_some() {
            return Err(
                "authentication cannot be turned on or off without a restart (jwt_*); \
                 nothing was reloaded"
                    .into(),
            );
        }
        // Everything is checked before anything is applied.
        crate::telemetry::filter(&next.log_level)?;
        ApiKeys::new(&next.api_keys, next.api_rate_per_sec)?;
        if let Some(certificate) = &self.certificate {
            certificate.reload(next.tls_cert_file.as_ref(), next.tls_key_file.as_ref())?;
        }
        let jwt_changed = changed
            .iter()
            .any(|key| key.starts_with("jwt_") && key != "jwt_rotation_overlap_ms");
        let key_files = !next.jwt_public_key_file.is_empty() || !next.jwt_jwks_file.is_empty();
        if let (Some(auth), Some(jwt)) = (&self.auth, jwt) {
            if jwt_changed || key_files {
                auth.rotate(jwt, Duration::from_millis(next.jwt_rotation_overlap_ms));
            }
        }
        self.api_keys
            .replace(&next.api_keys, next.api_rate_per_sec)?;
        crate::telemetry::set_level(&next.log_level)?;
        self.hub.set_per_ip_limits(
            next.hub.connection_rate_per_ip,
            next.hub.max_connections_per_ip,
        );
        *running = next;
        Ok(Reloaded {
            changed,
            certificate: self.certificate.is_some(),
        })
    }

    fn running(&self) -> std::sync::MutexGuard<'_, ServerConfig> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reloads on every SIGHUP, until aborted.
pub(crate) async fn on_hangup(reloader: web::Data<Reloader>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("SIGHUP cannot be caught here: reload with POST /api/reload");
            return;
        };
        while hangups.recv().await.is_some() {
            log(&reloader.reload(), "SIGHUP");
        }
    }
    #[cfg(not(unix))]
    drop(reloader);
}

/// The log line of a reload.
pub(crate) fn log(outcome: &Result<Reloaded, String>, by: &str) {
    match outcome {
        Ok(reloaded) => tracing::info!(
            by,
            changed = ?reloaded.changed,
            certificate = reloaded.certificate,
            "config reloaded"
        ),
        Err(error) => tracing::error!(by, %error, "config reload refused"),
    }
}

/// The settings whose values differ, as config keys (the hub's own keys
/// sit beside the server's in one table).
fn changed_settings(before: &ServerConfig, after: &ServerConfig) -> Result<Vec<String>, String> {
    let (before, after) = (settings(before)?, settings(after)?);
    Ok(after
        .iter()
        .filter(|(key, value)| before.get(*key) != Some(*value))
        .map(|(key, _)| key.clone())
        .collect())
}

fn settings(config: &ServerConfig) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(config) {
        Ok(Value::Object(settings)) => Ok(settings),
        Ok(_) => Err("the config is not a table".into()),
        Err(e) => Err(format!("the config cannot be compared: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_settings_are_named_by_their_keys() {
        let before = ServerConfig::default();
        let mut after = before.clone();
        after.log_level = "debug".into();
        after.bind = "127.0.0.1:9".into();
        after.hub.rate_limit_per_sec += 1;
        let mut changed = changed_settings(&before, &after).expect("comparable");
        changed.sort();
        assert_eq!(changed, ["bind", "log_level", "rate_limit_per_sec"]);
        assert!(changed_settings(&before, &before)
            .expect("comparable")
            .is_empty());
    }
}
