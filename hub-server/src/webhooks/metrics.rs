//! What the webhooks did, for `/metrics`: events by outcome
//! (`signal_hub_webhook_events_total{outcome}`: delivered, dropped — the
//! queue was full — and expired — given up after `webhook_max_age_ms`),
//! failed posts (`signal_hub_webhook_failures_total`), the events waiting
//! (`signal_hub_webhook_queued`) and each post's time
//! (`signal_hub_webhook_duration_seconds`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// See the module docs.
#[derive(Debug)]
pub struct WebhookMetrics {
    events: Family<Outcome, Counter>,
    failures: Counter,
    pub(super) queued: Gauge,
    duration: Histogram,
}

impl Default for WebhookMetrics {
    fn default() -> Self {
        Self {
            events: Family::default(),
            failures: Counter::default(),
            queued: Gauge::default(),
            // 1 ms to ~8 s.
            duration: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.001, 2.0, 14,
            )),
        }
    }
}

impl WebhookMetrics {
    pub(super) fn event(&self, outcome: &'static str) {
        self.events.get_or_create(&Outcome { outcome }).inc();
    }

    pub(super) fn post(&self, took: Duration, ok: bool) {
        self.duration.observe(took.as_secs_f64());
        if !ok {
            self.failures.inc();
        }
    }

    /// Registers every metric (under the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "webhook_events",
            "Lifecycle events by outcome (delivered, dropped: the queue was full, expired: given up).",
            self.events.clone(),
        );
        registry.register(
            "webhook_failures",
            "Webhook posts that failed (no answer in time, not 2xx); each is retried.",
            self.failures.clone(),
        );
        registry.register(
            "webhook_queued",
            "Lifecycle events waiting to be delivered.",
            self.queued.clone(),
        );
        registry.register(
            "webhook_duration_seconds",
            "Time a webhook post took.",
            self.duration.clone(),
        );
    }
}
