//! The webhook keys (`webhook_*`, top-level in the config file and env).

use serde::{Deserialize, Serialize};

/// Where and how the hub posts its lifecycle events (see `webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookConfig {
    /// Where events are posted (`http://` or `https://`). Empty: no
    /// webhooks. Default empty.
    pub webhook_url: String,
    /// The key of each post's HMAC-SHA256 signature
    /// (`Signal-Hub-Signature`), at least 32 bytes; needed with
    /// `webhook_url`. Default empty.
    pub webhook_secret: String,
    /// Which events are posted (`connected`, `disconnected`,
    /// `user_online`, `user_offline`, `subscribed`, `unsubscribed`,
    /// `occupied`, `vacated`). Empty: all. Default empty.
    pub webhook_events: Vec<String>,
    /// How long one post may take, answer included; a failure after.
    /// Default 5000.
    pub webhook_timeout_ms: u64,
    /// Posts in flight at once (one per user or topic at a time, in
    /// order). Default 64.
    pub webhook_max_concurrency: usize,
    /// Events waiting to be delivered, at most; past it a new event is
    /// dropped (`signal_hub_webhook_events_total{outcome="dropped"}`).
    /// Default 100000.
    pub webhook_max_queued: usize,
    /// The first retry's delay after a failed post; each retry waits
    /// twice as long, up to `webhook_retry_max_ms` (with jitter).
    /// Default 500.
    pub webhook_retry_min_ms: u64,
    /// The longest delay between retries. Default 60000.
    pub webhook_retry_max_ms: u64,
    /// How long an event is retried before it is given up
    /// (`outcome="expired"`). Default 86400000 (24 h).
    pub webhook_max_age_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            webhook_url: String::new(),
            webhook_secret: String::new(),
            webhook_events: Vec::new(),
            webhook_timeout_ms: 5_000,
            webhook_max_concurrency: 64,
            webhook_max_queued: 100_000,
            webhook_retry_min_ms: 500,
            webhook_retry_max_ms: 60_000,
            webhook_max_age_ms: 86_400_000,
        }
    }
}

/// Shortest `webhook_secret`, in bytes.
const MIN_SECRET_BYTES: usize = 32;

impl WebhookConfig {
    /// Checks the keys, naming the one at fault.
    ///
    /// # Errors
    /// What is wrong, and with which key.
    pub fn check(&self) -> Result<(), String> {
        if self.webhook_url.is_empty() {
            return Ok(());
        }
        let url =
            reqwest::Url::parse(&self.webhook_url).map_err(|e| format!("webhook_url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("webhook_url must be http:// or https://: {url}"));
        }
        if self.webhook_secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "webhook_secret must be at least {MIN_SECRET_BYTES} bytes with webhook_url \
                 (the receiver checks each post's signature with it)"
            ));
        }
        if let Some(bad) = self
            .webhook_events
            .iter()
            .find(|e| !hub_core::lifecycle::ALL_EVENTS.contains(&e.as_str()))
        {
            return Err(format!(
                "webhook_events: unknown event {bad:?}; known: {}",
                hub_core::lifecycle::ALL_EVENTS.join(", ")
            ));
        }
        for (key, value) in [
            ("webhook_timeout_ms", self.webhook_timeout_ms),
            (
                "webhook_max_concurrency",
                self.webhook_max_concurrency as u64,
            ),
            ("webhook_max_queued", self.webhook_max_queued as u64),
            ("webhook_retry_min_ms", self.webhook_retry_min_ms),
        ] {
            if value == 0 {
                return Err(format!("{key} must be greater than 0"));
            }
        }
        if self.webhook_retry_max_ms < self.webhook_retry_min_ms {
            return Err("webhook_retry_max_ms must be at least webhook_retry_min_ms".into());
        }
        Ok(())
    }

    /// Whether `event` is posted.
    pub(super) fn wants(&self, event: &str) -> bool {
        self.webhook_events.is_empty() || self.webhook_events.iter().any(|e| e == event)
    }
}
