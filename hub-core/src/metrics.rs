//! Counters and gauges of one hub. Plain atomics with fixed names, private to
//! the crate: updating one never allocates or locks. Readers get a
//! [`MetricsSnapshot`], rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

macro_rules! metrics {
    ($( $(#[$doc:meta])* $name:ident : $kind:literal ),* $(,)?) => {
        /// The hub's live counters (`_total`) and gauges, updated in place.
        #[derive(Debug, Default)]
        pub(crate) struct Metrics {
            $( $(#[$doc])* pub(crate) $name: AtomicU64, )*
        }

        /// The hub's counters (`_total`) and gauges, read at one moment
        /// ([`Hub::metrics`](crate::Hub::metrics)). Each field is read on its
        /// own, so two fields may be a few updates apart.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl Metrics {
            /// Reads every metric.
            pub(crate) fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot {
                    $( $name: self.$name.load(Relaxed), )*
                }
            }
        }

        impl MetricsSnapshot {
            /// Renders every metric in the Prometheus text exposition format.
            pub fn render_prometheus(&self) -> String {
                let mut out = String::with_capacity(2048);
                $(
                    let _ = writeln!(out, "# TYPE signal_hub_{} {}", stringify!($name), $kind);
                    let _ = writeln!(out, "signal_hub_{} {}", stringify!($name), self.$name);
                )*
                out
            }
        }
    };
}

metrics! {
    /// WebSocket connections open now.
    connections: "gauge",
    /// WebSocket connections accepted since start.
    connections_total: "counter",
    /// Addresses registered now.
    registered: "gauge",
    /// Topic actors alive now.
    topics: "gauge",
    /// Topic actors created since start.
    topics_created_total: "counter",
    /// Publications accepted by topics.
    publications_total: "counter",
    /// Frames accepted into recipients' queues by publish, send and broadcast.
    deliveries_total: "counter",
    /// Sessions evicted by a newer connection with the same address.
    evictions_total: "counter",
    /// Sessions disconnected because their outbound queue overflowed.
    slow_consumers_total: "counter",
    /// Sessions closed for heartbeat silence.
    heartbeat_timeouts_total: "counter",
    /// Registrations expired by the TTL alarm.
    registrations_expired_total: "counter",
    /// Frames refused by the rate limit.
    rate_limited_total: "counter",
    /// Error frames sent.
    errors_total: "counter",
    /// Direct messages stored in an inbox (durability on).
    inbox_stored_total: "counter",
    /// Stored messages dropped because their `message_ttl_ms` passed.
    inbox_expired_total: "counter",
    /// Bytes of publications kept in topic histories now (bounded by
    /// `history_max_total_bytes`).
    history_bytes: "gauge",
    /// Publications written to Redis for the other nodes (Redis engine).
    broker_published_total: "counter",
    /// Publications from other nodes handed to topic actors here (Redis engine).
    broker_received_total: "counter",
    /// Publications not carried between nodes: the publish queue was full,
    /// Redis was away, this node fell behind reading, or a topic's mailbox
    /// was full (Redis engine).
    broker_dropped_total: "counter",
}

impl Metrics {
    /// Adds one to a metric.
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    /// Adds `n` to a metric.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// Subtracts one from a gauge.
    pub(crate) fn dec(gauge: &AtomicU64) {
        gauge.fetch_sub(1, Relaxed);
    }

    /// Sets a gauge.
    pub(crate) fn set(gauge: &AtomicU64, v: u64) {
        gauge.store(v, Relaxed);
    }
}
