//! What the proxies did, for `/metrics`: calls by proxy and outcome
//! (`signal_hub_proxy_calls_total{proxy,outcome}`: answered, busy,
//! unavailable, malformed) and their latency
//! (`signal_hub_proxy_duration_seconds{proxy}`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    proxy: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Named {
    proxy: &'static str,
}

/// See the module docs.
#[derive(Debug)]
pub struct ProxyMetrics {
    calls: Family<Outcome, Counter>,
    duration: Family<Named, Histogram, fn() -> Histogram>,
}

fn buckets() -> Histogram {
    // 1 ms to ~4 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 13,
    ))
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            duration: Family::new_with_constructor(buckets),
        }
    }
}

impl ProxyMetrics {
    pub(super) fn outcome(&self, proxy: &'static str, outcome: &'static str) {
        self.calls.get_or_create(&Outcome { proxy, outcome }).inc();
    }

    pub(super) fn latency(&self, proxy: &'static str, took: Duration) {
        self.duration
            .get_or_create(&Named { proxy })
            .observe(took.as_secs_f64());
    }

    /// Registers both families (under the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "proxy_calls",
            "Calls to the application's backend by proxy and outcome (answered, busy, unavailable, malformed).",
            self.calls.clone(),
        );
        registry.register(
            "proxy_duration_seconds",
            "Time a proxy call to the application's backend took.",
            self.duration.clone(),
        );
    }
}
