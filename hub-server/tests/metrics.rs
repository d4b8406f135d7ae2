//! `/metrics` read as Prometheus reads it: parsed with a Prometheus text
//! parser, every series documented, and the series moving with the traffic
//! a real client makes over a real socket.

mod common;

use common::*;
use hub_server::SpawnedServer;
use prometheus_parse::{Scrape, Value as Series};
use serde_json::json;

/// One scrape of a server's `/metrics`.
struct Metrics(Scrape);

impl Metrics {
    async fn scrape(server: &SpawnedServer) -> Self {
        let (status, body) = http_get(server, "/metrics").await;
        assert_eq!(status, 200, "{body}");
        let lines = body.lines().map(|l| Ok(l.to_owned()));
        Self(Scrape::parse(lines).expect("Prometheus text format"))
    }

    /// The value of a counter or gauge with these labels (a histogram:
    /// its observation count).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let sample = self
            .0
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no series {name} {labels:?}"));
        match &sample.value {
            Series::Counter(v) | Series::Gauge(v) | Series::Untyped(v) => *v,
            Series::Histogram(buckets) => {
                buckets
                    .iter()
                    .find(|b| b.less_than == f64::INFINITY)
                    .expect("a +Inf bucket")
                    .count
            }
            Series::Summary(_) => panic!("{name} is a summary"),
        }
    }

    fn plain(&self, name: &str) -> f64 {
        self.value(name, &[])
    }

    /// Observations a histogram counted, and their sum.
    fn histogram(&self, name: &str) -> (f64, f64) {
        (self.plain(name), self.plain(&format!("{name}_sum")))
    }
}

/// Every series the server exports has a `# HELP` line (and a type), the
/// counters by code list every code from the start, and the histograms
/// have their buckets.
#[tokio::test]
async fn every_series_is_documented_and_labelled() {
    let server = start_default();
    let (_c, _) = Client::connect(&server, "a").await;
    let (_, body) = http_get(&server, "/metrics").await;
    let metrics = Metrics::scrape(&server).await;
    let mut families = 0;
    for line in body.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        families += 1;
        let help = metrics.0.docs.get(name);
        assert!(
            help.is_some_and(|h| h.len() > 10),
            "{name} has no help: {help:?}"
        );
    }
    assert!(families >= 30, "only {families} families");
    for sample in &metrics.0.samples {
        let family = sample
            .metric
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            metrics.0.docs.contains_key(&sample.metric) || metrics.0.docs.contains_key(family),
            "{} has no help",
            sample.metric
        );
    }
    assert_eq!(metrics.plain("signal_hub_connections"), 1.0);
    assert_eq!(metrics.plain("signal_hub_registered"), 1.0);
    for code in ["1000", "1006", "4000", "4002", "4502"] {
        let closes = metrics.value("signal_hub_session_closes_total", &[("code", code)]);
        assert_eq!(closes, 0.0, "close code {code} is listed from the start");
    }
    for code in [
        "bad_json",
        "rate_limited",
        "recipient_not_found",
        "unauthorized",
    ] {
        let errors = metrics.value("signal_hub_refusals_total", &[("code", code)]);
        assert_eq!(errors, 0.0, "error code {code} is listed from the start");
    }
    for histogram in [
        "signal_hub_delivery_latency_seconds",
        "signal_hub_fanout_recipients",
        "signal_hub_outbound_queue_frames",
        "signal_hub_inbound_frame_size_bytes",
        "signal_hub_outbound_frame_size_bytes",
    ] {
        let sample = metrics.0.samples.iter().find(|s| s.metric == histogram);
        let Some(Series::Histogram(buckets)) = sample.map(|s| &s.value) else {
            panic!("{histogram} is not a histogram: {sample:?}");
        };
        assert!(buckets.len() >= 10, "{histogram}: {buckets:?}");
    }
    assert!(metrics.plain("process_resident_memory_bytes") > 1_000_000.0);
    assert!(metrics.plain("process_open_fds") >= 3.0);
    assert!(metrics.plain("process_max_fds") >= metrics.plain("process_open_fds"));
    assert!(metrics.plain("process_cpu_seconds_total") >= 0.0);
    assert!(metrics.plain("process_start_time_seconds") > 1.6e9);
}

/// Publications (with and without subscribers), deliveries, fan-out sizes,
/// delivery latencies, frame sizes, error answers by code and closes by
/// code all move by what the traffic made, no more.
#[tokio::test]
async fn series_move_with_traffic() {
    let server = start_default();
    let (mut one, _) = Client::connect(&server, "one").await;
    let (mut two, _) = Client::connect(&server, "two").await;
    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    for c in [&mut one, &mut two] {
        c.send(json!({"type": "hub:subscribe", "id": "s", "topic": "room"}))
            .await;
        let ack = c.next_frame().await;
        assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    }
    let before = Metrics::scrape(&server).await;

    for i in 0..3 {
        let frame = json!({"type": "hub:publish", "id": format!("p{i}"), "topic": "room", "payload": {"n": i}});
        publisher.send(frame).await;
        let ack = publisher.next_frame().await;
        assert_eq!(ack["recipients"], 2, "{ack}");
    }
    for i in 0..2 {
        let frame =
            json!({"type": "hub:publish", "id": format!("q{i}"), "topic": "nobody", "payload": {}});
        publisher.send(frame).await;
        let ack = publisher.next_frame().await;
        assert_eq!(ack["recipients"], 0, "{ack}");
    }
    for c in [&mut one, &mut two] {
        for i in 0..3 {
            let message = c.next_frame().await;
            assert_eq!(message["payload"]["n"], i, "{message}");
        }
    }
    publisher.send_text("{not json".into()).await;
    assert_eq!(publisher.next_frame().await["code"], "bad_json");
    publisher
        .send(json!({"type": "hub:send", "id": "x", "to": "nobody-here", "payload": 1}))
        .await;
    let refused = publisher.next_frame().await;
    assert_eq!(refused["reason"], "recipient_not_found", "{refused}");

    let after = Metrics::scrape(&server).await;
    let moved = |name: &str| after.plain(name) - before.plain(name);
    assert_eq!(
        moved("signal_hub_publications_total"),
        5.0,
        "with subscribers or not"
    );
    assert_eq!(moved("signal_hub_deliveries_total"), 6.0);
    let fanouts = (
        after.histogram("signal_hub_fanout_recipients").0
            - before.histogram("signal_hub_fanout_recipients").0,
        after.histogram("signal_hub_fanout_recipients").1
            - before.histogram("signal_hub_fanout_recipients").1,
    );
    assert_eq!(
        fanouts,
        (3.0, 6.0),
        "three fan-outs of two (no topic actor for `nobody`)"
    );
    let latency = after.histogram("signal_hub_delivery_latency_seconds");
    let latency_before = before.histogram("signal_hub_delivery_latency_seconds");
    assert_eq!(latency.0 - latency_before.0, 6.0, "one per frame written");
    assert!(latency.1 > latency_before.1, "the sum grows");
    let sent = moved("signal_hub_outbound_frame_size_bytes");
    assert!(sent >= 6.0 + 5.0 + 2.0, "messages, acks and errors: {sent}");
    let received = moved("signal_hub_inbound_frame_size_bytes");
    assert_eq!(received, 7.0, "every text frame the publisher sent");
    assert!(moved("signal_hub_outbound_queue_frames") >= 1.0);
    let by_code = |m: &Metrics, code| m.value("signal_hub_refusals_total", &[("code", code)]);
    assert_eq!(
        by_code(&after, "bad_json") - by_code(&before, "bad_json"),
        1.0
    );
    let not_found = "recipient_not_found";
    assert_eq!(
        by_code(&after, not_found) - by_code(&before, not_found),
        1.0
    );
    assert_eq!(moved("signal_hub_errors_total"), 1.0, "hub:error frames");

    // One client says goodbye, one vanishes: closes by code.
    one.send(json!({"type": "hub:disconnect"})).await;
    drop(two);
    let mut settled = None;
    for _ in 0..500 {
        let m = Metrics::scrape(&server).await;
        let normal = m.value("signal_hub_session_closes_total", &[("code", "1000")]);
        let lost = m.value("signal_hub_session_closes_total", &[("code", "1006")]);
        if normal + lost >= 2.0 {
            settled = Some((normal, lost, m.plain("signal_hub_connections")));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (normal, lost, open) = settled.expect("both closes counted");
    assert_eq!(
        (normal, lost),
        (1.0, 1.0),
        "a hub:disconnect is 1000, a dropped socket 1006"
    );
    assert!(open <= 2.0);
}

/// A publication to a topic whose namespace keeps history is counted once
/// it is recorded, even with nobody subscribed.
#[tokio::test]
async fn a_recorded_publication_without_subscribers_is_counted() {
    let mut config = test_config();
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 10,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    let server = start(config);
    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    let before = Metrics::scrape(&server).await;
    publisher
        .send(json!({"type": "hub:publish", "id": "p", "topic": "feed:news", "payload": 1}))
        .await;
    let ack = publisher.next_frame().await;
    assert_eq!(ack["offset"], 1, "{ack}");
    let after = Metrics::scrape(&server).await;
    let name = "signal_hub_publications_total";
    assert_eq!(after.plain(name) - before.plain(name), 1.0);
}

/// Deliveries and refusals by the topic's namespace: a configured namespace
/// is a label, `default` is one, a namespace past `metrics_max_namespaces`
/// and any name a client makes up count as `_other` (a flood of made-up
/// names adds no series), a request about no topic as `_none`.
#[tokio::test]
async fn deliveries_and_refusals_are_labelled_by_namespace_within_a_bound() {
    let mut config = test_config();
    for name in ["chat", "zoo"] {
        config
            .hub
            .namespaces
            .insert(name.into(), Default::default());
    }
    // `chat` and `default` get labels; `zoo` is past the bound.
    config.hub.metrics_max_namespaces = 2;
    let server = start(config);
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    for topic in ["chat:room", "lobby", "zoo:cage"] {
        a.subscribe(topic).await;
        b.subscribe(topic).await;
    }
    let (mut publisher, _) = Client::connect(&server, "p").await;
    assert_eq!(publisher.publish("chat:room", json!(1)).await, 2);
    assert_eq!(publisher.publish("chat:room", json!(2)).await, 2);
    assert_eq!(publisher.publish("lobby", json!(3)).await, 2);
    assert_eq!(publisher.publish("zoo:cage", json!(4)).await, 2);
    for subscriber in [&mut a, &mut b] {
        for _ in 0..4 {
            subscriber.expect("hub:message").await;
        }
    }
    for i in 0..50 {
        let topic = format!("made-up-{i}:x");
        let refused = a
            .request(json!({"type": "hub:subscribe", "id": i, "topic": topic}))
            .await;
        assert_eq!(refused["code"], "unknown_namespace", "{refused}");
    }
    let refused = a
        .request(json!({"type": "hub:send", "id": "s", "to": "nobody", "payload": 1, "ack": true}))
        .await;
    assert_eq!(refused["reason"], "recipient_not_found", "{refused}");

    let metrics = Metrics::scrape(&server).await;
    let deliveries = |namespace| {
        metrics.value(
            "signal_hub_namespace_deliveries_total",
            &[("namespace", namespace)],
        )
    };
    // Each publication reached a and b.
    assert_eq!(deliveries("chat"), 4.0);
    assert_eq!(deliveries("default"), 2.0);
    assert_eq!(deliveries("_other"), 2.0);
    let refusals = |namespace, code| {
        metrics.value(
            "signal_hub_namespace_refusals_total",
            &[("namespace", namespace), ("code", code)],
        )
    };
    assert_eq!(refusals("_other", "unknown_namespace"), 50.0);
    assert_eq!(refusals("_none", "recipient_not_found"), 1.0);
    let labels: std::collections::BTreeSet<&str> = metrics
        .0
        .samples
        .iter()
        .filter(|s| s.metric.starts_with("signal_hub_namespace_"))
        .filter_map(|s| s.labels.get("namespace"))
        .collect();
    assert_eq!(
        labels,
        ["_none", "_other", "chat", "default"].into_iter().collect()
    );
}
