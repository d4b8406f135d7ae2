//! Counters, gauges and histograms of one hub: plain atomics with fixed
//! names, private to the crate, so updating one never allocates or locks.
//! Readers get a [`MetricsSnapshot`], or register the hub's
//! [`MetricsCollector`] in a prometheus-client registry, which exports every
//! series with its help text (`export.rs`).
//!
//! What the counters count, per node (with the Redis engine each node
//! exports its own; sum them for the hub):
//! - `publications_total`: publications made on this node (by its clients,
//!   its API or the application) and accepted, whether or not anyone
//!   subscribes; a publication is counted once, on the node that took it.
//! - `fanout_recipients` (histogram): one observation per fan-out by a topic
//!   here, of a publication made here or on another node; its `_sum` is the
//!   frames publications put in queues here.
//! - `deliveries_total`: frames accepted into recipients' queues here by
//!   publish, send, broadcast and stored-message replay.

mod export;
mod histogram;
#[cfg(test)]
mod histogram_tests;
mod namespaces;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub use export::MetricsCollector;
pub(crate) use histogram::{Batch, Histogram};
pub(crate) use namespaces::{NamespaceCounters, NONE as NO_NAMESPACE};

use crate::protocol::codes::{ALL_CLOSE_CODES, ALL_ERROR_CODES};
use crate::protocol::{CloseCode, ErrorCode};

macro_rules! metrics {
    ($( $name:ident : $kind:ident $exported:literal = $help:literal ),* $(,)?) => {
        /// The hub's live counters and gauges, updated in place.
        #[derive(Debug)]
        pub(crate) struct Metrics {
            $( #[doc = $help] pub(crate) $name: AtomicU64, )*
            /// Sessions closed, by close code (indexed by `CloseCode as usize`).
            pub(crate) closes: [AtomicU64; ALL_CLOSE_CODES.len()],
            /// Sessions whose connection ended with no close frame either way.
            pub(crate) lost: AtomicU64,
            /// Requests refused, by error code (indexed by `ErrorCode as usize`).
            pub(crate) errors: [AtomicU64; ALL_ERROR_CODES.len()],
            /// Publication arrival → its frame handed to a subscriber's socket.
            pub(crate) delivery_latency: Histogram,
            /// Subscribers one fan-out reached.
            pub(crate) fanout_recipients: Histogram,
            /// Frames waiting in a session's queue when its writer takes them.
            pub(crate) outbound_queue_frames: Histogram,
            /// Size of text frames received from clients.
            pub(crate) inbound_frame_bytes: Histogram,
            /// Size of frames queued for clients.
            pub(crate) outbound_frame_bytes: Histogram,
            /// Deliveries and refusals by the topic's namespace.
            pub(crate) namespaces: NamespaceCounters,
        }

        /// The hub's counters (`_total`) and gauges, read at one moment
        /// ([`Hub::metrics`](crate::Hub::metrics)). Each field is read on its
        /// own, so two fields may be a few updates apart.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $( #[doc = $help] pub $name: u64, )*
        }

        impl Metrics {
            /// Every metric at zero, with the histograms' buckets.
            pub(crate) fn new() -> Self {
                Self {
                    $( $name: AtomicU64::new(0), )*
                    closes: std::array::from_fn(|_| AtomicU64::new(0)),
                    lost: AtomicU64::new(0),
                    errors: std::array::from_fn(|_| AtomicU64::new(0)),
                    delivery_latency: Histogram::new(histogram::LATENCY_MICROS),
                    fanout_recipients: Histogram::new(histogram::RECIPIENTS),
                    outbound_queue_frames: Histogram::new(histogram::QUEUE_FRAMES),
                    inbound_frame_bytes: Histogram::new(histogram::FRAME_BYTES),
                    outbound_frame_bytes: Histogram::new(histogram::FRAME_BYTES),
                    namespaces: NamespaceCounters::default(),
                }
            }

            /// Reads every counter and gauge.
            pub(crate) fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot {
                    $( $name: self.$name.load(Relaxed), )*
                }
            }

            /// (exported name, help, kind, value) of every plain series.
            fn plain(&self) -> impl Iterator<Item = (&'static str, &'static str, export::Kind, u64)> + '_ {
                [$( ($exported, $help, export::Kind::$kind, self.$name.load(Relaxed)) ),*].into_iter()
            }
        }
    };
}

metrics! {
    connections: Gauge "connections" = "WebSocket connections open now.",
    connections_total: Counter "connections" = "WebSocket connections accepted since start.",
    registered: Gauge "registered" = "Addresses registered on this node now.",
    topics: Gauge "topics" = "Topic actors alive on this node now.",
    topics_created_total: Counter "topics_created" = "Topic actors created since start.",
    publications_total: Counter "publications" =
        "Publications made on this node and accepted, with or without subscribers.",
    deliveries_total: Counter "deliveries" =
        "Frames accepted into recipients' queues on this node by publish, send, broadcast and replay.",
    evictions_total: Counter "evictions" =
        "Sessions evicted by a newer connection with the same address.",
    slow_consumers_total: Counter "slow_consumers" =
        "Sessions disconnected because their outbound queue overflowed.",
    heartbeat_timeouts_total: Counter "heartbeat_timeouts" =
        "Sessions closed for heartbeat silence.",
    registrations_expired_total: Counter "registrations_expired" =
        "Registrations expired by the TTL alarm.",
    rate_limited_total: Counter "rate_limited" = "Frames refused by the rate limit.",
    errors_total: Counter "errors" = "hub:error frames sent to clients (by code, with rejected sends: signal_hub_refusals_total).",
    inbox_stored_total: Counter "inbox_stored" = "Direct messages stored in an inbox (durability on).",
    inbox_expired_total: Counter "inbox_expired" =
        "Stored messages dropped because their message_ttl_ms passed.",
    inbox_full_copies_total: Counter "inbox_full_copies" =
        "Copies of a send to a user not stored because that device's (or the user's own) inbox was at its caps, while its other inboxes took one.",
    history_bytes: Gauge "history_bytes" =
        "Bytes of publications kept in this node's topic histories (bounded by history_max_total_bytes).",
    broker_published_total: Counter "broker_published" =
        "Publications written to Redis for the other nodes (Redis engine).",
    broker_received_total: Counter "broker_received" =
        "Publications from other nodes handed to topic actors here (Redis engine).",
    broker_dropped_total: Counter "broker_dropped" =
        "Publications not carried between nodes: publish queue full, Redis away, this node behind, or a topic's mailbox full (Redis engine).",
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

    /// Counts a session closed with `code`.
    pub(crate) fn closed(&self, code: CloseCode) {
        Self::inc(&self.closes[code as usize]);
    }

    /// Metrics labelling deliveries and refusals by `namespaces`.
    pub(crate) fn with_namespaces(namespaces: NamespaceCounters) -> Self {
        Self {
            namespaces,
            ..Self::new()
        }
    }

    /// Counts a request refused with `code` (a `hub:error`, or a rejected
    /// `hub:delivery_ack`), about a topic in namespace slot `namespace`
    /// ([`NO_NAMESPACE`] for none).
    pub(crate) fn refused(&self, namespace: usize, code: ErrorCode) {
        Self::inc(&self.errors[code as usize]);
        self.namespaces.refused(namespace, code);
    }

    /// Counts one fan-out, by a topic in namespace slot `namespace`, of a
    /// `bytes`-byte frame that reached `recipients` queues (its frame size counted once per queue, here, not by each
    /// writer).
    pub(crate) fn fanned_out(&self, namespace: usize, recipients: usize, bytes: usize) {
        Self::add(&self.deliveries_total, recipients as u64);
        self.namespaces.delivered(namespace, recipients as u64);
        self.fanout_recipients.observe(recipients as u64);
        (self.outbound_frame_bytes).observe_n(bytes as u64, recipients as u64);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_index_their_arrays_in_declaration_order() {
        for (i, code) in ALL_CLOSE_CODES.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code:?}");
        }
        for (i, code) in ALL_ERROR_CODES.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code:?}");
        }
    }
}
