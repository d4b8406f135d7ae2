//! The hub's metrics as a prometheus-client [`Collector`]: registered in the
//! application's (or hub-server's) registry, it encodes every series with
//! its help text at each scrape, straight from the atomics; nothing is
//! copied between scrapes.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

use super::histogram::Histogram;
use super::Metrics;
use crate::protocol::codes::{ALL_CLOSE_CODES, ALL_ERROR_CODES};

/// Whether a plain series is a counter or a gauge.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Counter,
    Gauge,
}

/// Every metric of one hub, for a prometheus-client registry
/// ([`Hub::metrics_collector`](crate::Hub::metrics_collector)). Names are
/// bare (`connections`, `publications_total`, ...); register it under a
/// prefix, as hub-server does with `signal_hub`:
///
/// ```no_run
/// # fn f(hub: &hub_core::Hub) {
/// use prometheus_client::registry::Registry;
/// let mut registry = Registry::with_prefix("signal_hub");
/// registry.register_collector(Box::new(hub.metrics_collector()));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MetricsCollector(pub(crate) Arc<Metrics>);

impl Collector for MetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = &self.0;
        for (name, help, kind, value) in m.plain() {
            match kind {
                Kind::Counter => {
                    let metric = ConstCounter::new(value);
                    metric.encode(encoder.encode_descriptor(
                        name,
                        help,
                        None,
                        MetricType::Counter,
                    )?)?;
                }
                Kind::Gauge => {
                    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
                    metric.encode(encoder.encode_descriptor(
                        name,
                        help,
                        None,
                        MetricType::Gauge,
                    )?)?;
                }
            }
        }
        {
            let help = "Sessions closed, by WebSocket close code (1006: the connection was lost without a close).";
            let mut family =
                encoder.encode_descriptor("session_closes", help, None, MetricType::Counter)?;
            for code in ALL_CLOSE_CODES {
                let labels = [
                    ("code", code.number().to_string()),
                    ("reason", code.as_str().to_owned()),
                ];
                ConstCounter::new(
                    m.closes[*code as usize].load(std::sync::atomic::Ordering::Relaxed),
                )
                .encode(family.encode_family(&labels)?)?;
            }
            let labels = [("code", "1006"), ("reason", "connection_lost")];
            ConstCounter::new(m.lost.load(std::sync::atomic::Ordering::Relaxed))
                .encode(family.encode_family(&labels)?)?;
        }
        {
            let help = "Requests refused with an error code (a hub:error frame, or a rejected hub:delivery_ack), by code.";
            let mut family =
                encoder.encode_descriptor("refusals", help, None, MetricType::Counter)?;
            for code in ALL_ERROR_CODES {
                let labels = [("code", code.as_str())];
                ConstCounter::new(
                    m.errors[*code as usize].load(std::sync::atomic::Ordering::Relaxed),
                )
                .encode(family.encode_family(&labels)?)?;
            }
        }
        {
            let help = "Frames queued by fan-outs of topics, by the topic's namespace (the configured ones, at most metrics_max_namespaces; _other for the rest).";
            let mut family = encoder.encode_descriptor(
                "namespace_deliveries",
                help,
                None,
                MetricType::Counter,
            )?;
            for (namespace, n) in m.namespaces.deliveries() {
                ConstCounter::new(n).encode(family.encode_family(&[("namespace", namespace)])?)?;
            }
        }
        {
            let help = "Requests refused, by the namespace of the topic they were about (_none: no topic) and error code; only the pairs that happened.";
            let mut family =
                encoder.encode_descriptor("namespace_refusals", help, None, MetricType::Counter)?;
            for (namespace, code, n) in m.namespaces.refusals() {
                let labels = [("namespace", namespace), ("code", code.as_str())];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        // (name, help, unit, histogram, units per exported unit)
        let histograms: [(&str, &str, Option<Unit>, &Histogram, f64); 5] = [
            (
                "delivery_latency",
                "From a publication's arrival at this node (from a client, the API, the application or another node) to its frame being handed to a subscriber's socket.",
                Some(Unit::Seconds),
                &m.delivery_latency,
                1e6,
            ),
            (
                "fanout_recipients",
                "Subscribers' queues one fan-out by a topic on this node reached.",
                None,
                &m.fanout_recipients,
                1.0,
            ),
            (
                "outbound_queue_frames",
                "Frames waiting in a session's outbound queue each time its writer takes them.",
                None,
                &m.outbound_queue_frames,
                1.0,
            ),
            (
                "inbound_frame_size",
                "Size of the text frames received from clients.",
                Some(Unit::Bytes),
                &m.inbound_frame_bytes,
                1.0,
            ),
            (
                "outbound_frame_size",
                "Size of the text frames queued for clients (a publication once per subscriber queue that took it).",
                Some(Unit::Bytes),
                &m.outbound_frame_bytes,
                1.0,
            ),
        ];
        for (name, help, unit, histogram, scale) in &histograms {
            let totals = histogram.totals();
            let buckets: Vec<(f64, u64)> = totals
                .buckets
                .iter()
                .map(|&(bound, count)| {
                    let upper = if bound == u64::MAX {
                        f64::INFINITY
                    } else {
                        bound as f64 / scale
                    };
                    (upper, count)
                })
                .collect();
            let mut metric =
                encoder.encode_descriptor(name, help, unit.as_ref(), MetricType::Histogram)?;
            metric.encode_histogram::<NoLabelSet>(
                totals.sum as f64 / scale,
                totals.count,
                &buckets,
                None,
            )?;
        }
        Ok(())
    }
}
