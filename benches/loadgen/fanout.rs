//! `fanout`: S subscribers on one topic, one publisher at a target rate (or
//! as fast as a window of unacknowledged publishes allows). Reports offered
//! and delivered rates, deliveries missing, latency percentiles and
//! deliveries per server CPU-second.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::report::{
    per_cpu_second, print, report_others, secs, CpuWindow, OtherCpus, SharedHistogram,
};
use crate::wire::{connect, frame_type, lines, now_ns, raise_fd_limit, stamp, stamped_payload};
use crate::Common;

/// Flags of `hub-bench fanout`.
#[derive(Debug, clap::Args)]
pub(crate) struct FanoutArgs {
    /// Subscribers on the topic.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Publications per second; 0 publishes as fast as `--window` allows.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Unacknowledged publications allowed in flight when `--rate 0`.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Payload size in bytes (it carries the send timestamp).
    #[arg(long, default_value_t = 100)]
    payload_bytes: usize,
    /// Every client asks for batches (`features: ["batch"]`): frames waiting
    /// together arrive as one WebSocket message, a line each.
    #[arg(long)]
    batch: bool,
    /// Every publication carries a fresh `msg_id`, as hub-client's do (with
    /// durability on the hub claims each before publishing).
    #[arg(long)]
    msg_id: bool,
    /// The publisher connects here: another node of the same hub (Redis
    /// engine), so every delivery crosses nodes. Default: `--url`.
    #[arg(long)]
    publisher_url: Option<String>,
    /// Other processes the run costs (the publisher's node, Redis): their
    /// CPU is reported as `others_cpu_s`, and deliveries per CPU-second of
    /// the server and these together.
    #[arg(long, value_delimiter = ',')]
    other_pids: Vec<u32>,
    /// Spread the subscribers evenly over these nodes of one hub (Redis
    /// engine). Default: all on `--url`.
    #[arg(long, value_delimiter = ',')]
    subscriber_urls: Vec<String>,
    /// The topic: one in a namespace with history measures numbered,
    /// kept publications.
    #[arg(long, default_value = "bench.fanout")]
    topic: String,
}

pub(crate) async fn run(common: &Common, args: &FanoutArgs) -> Result<(), String> {
    raise_fd_limit();
    let topic = args.topic.as_str();
    // Subscribers spread round the nodes listed in --subscriber-urls.
    let mut subscribers = Vec::with_capacity(args.subscribers);
    let urls: Vec<&str> = if args.subscriber_urls.is_empty() {
        vec![common.url.as_str()]
    } else {
        args.subscriber_urls.iter().map(String::as_str).collect()
    };
    for (k, url) in urls.iter().enumerate() {
        let n = (args.subscribers + urls.len() - 1 - k) / urls.len();
        let at = crate::connect_many_at(
            common,
            url,
            args.batch,
            n,
            |i| format!("fan-sub-{k}-{i}"),
            |_| Some(topic.to_owned()),
        )
        .await?;
        subscribers.extend(at);
    }
    let delivered = Arc::new(AtomicU64::new(0));
    let last_delivery_ns = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(SharedHistogram::new());
    let stop = Arc::new(AtomicBool::new(false));
    // Publications in flight. Across nodes the publisher's ack comes from
    // its own node, before the other nodes have the publication: there the
    // last subscriber's deliveries open the window instead.
    let window = Arc::new(Semaphore::new(args.window.max(1)));
    let cross_node = args.publisher_url.is_some() || args.subscriber_urls.len() > 1;
    let mut readers = Vec::with_capacity(subscribers.len());
    let last = subscribers.len().saturating_sub(1);
    for (i, ws) in subscribers.into_iter().enumerate() {
        // The last subscriber is on the last node listed: never the
        // publisher's own when it is another node.
        let opens = (cross_node && i == last).then(|| window.clone());
        let (mut tx, mut rx) = ws.split();
        let (delivered, last, latency, stop) = (
            delivered.clone(),
            last_delivery_ns.clone(),
            latency.clone(),
            stop.clone(),
        );
        readers.push(tokio::spawn(async move {
            // A subscriber pings every 10 s, as a client must within the
            // heartbeat timeout: a long run (the soak) keeps its subscribers.
            let pinger = tokio::spawn(async move {
                let every = Duration::from_secs(10);
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                loop {
                    tick.tick().await;
                    let ping = Message::Text(r#"{"type":"hub:ping"}"#.into());
                    if tx.send(ping).await.is_err() {
                        break;
                    }
                }
            });
            let mut batch = Vec::with_capacity(256);
            while let Some(Ok(msg)) = rx.next().await {
                if let Message::Text(text) = msg {
                    let now = now_ns();
                    for line in lines(&text) {
                        if let Some(sent) = stamp(line) {
                            batch.push(now.saturating_sub(sent) / 1000);
                            delivered.fetch_add(1, Relaxed);
                            if let Some(window) = &opens {
                                window.add_permits(1);
                            }
                            last.fetch_max(now, Relaxed);
                            if batch.len() == batch.capacity() {
                                latency.record_batch(&batch);
                                batch.clear();
                            }
                        }
                    }
                }
                if stop.load(Relaxed) {
                    break;
                }
            }
            latency.record_batch(&batch);
            pinger.abort();
        }));
    }

    let publisher_url = args.publisher_url.as_deref().unwrap_or(&common.url);
    if !crate::is_loopback(publisher_url) {
        return Err(format!("refusing {publisher_url}: loopback only"));
    }
    let publisher = connect(publisher_url, "fan-pub", args.batch).await?;
    let (mut ptx, mut prx) = publisher.split();
    let acked = Arc::new(AtomicU64::new(0));
    let ack_reader = {
        let (acked, window) = (acked.clone(), window.clone());
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = prx.next().await {
                for line in lines(&text) {
                    match frame_type(line) {
                        Some("hub:publish_ack") => {
                            acked.fetch_add(1, Relaxed);
                            if !cross_node {
                                window.add_permits(1);
                            }
                        }
                        Some("hub:rate_limited") => {
                            return Err(format!(
                            "publisher rate limited: {line} (raise the server's rate_limit_per_sec)"
                        ))
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        })
    };

    let payload = stamped_payload(args.payload_bytes);
    let next_id = std::cell::Cell::new(0u64);
    let with_id = args.msg_id;
    let frame = |p: String| {
        if with_id {
            next_id.set(next_id.get() + 1);
            let n = next_id.get();
            format!(
                r#"{{"type":"hub:publish","id":1,"topic":"{topic}","payload":{p},"msg_id":"m-{n}"}}"#
            )
        } else {
            format!(r#"{{"type":"hub:publish","id":1,"topic":"{topic}","payload":{p}}}"#)
        }
    };
    let cpu = CpuWindow::start(common.server_pid);
    let others = OtherCpus::start(&args.other_pids);
    let started = Instant::now();
    let started_ns = now_ns();
    let deadline = started + Duration::from_secs_f64(common.duration);
    let mut published = 0u64;
    if args.rate == 0 {
        while Instant::now() < deadline {
            let permit = window.acquire().await.map_err(|e| e.to_string())?;
            permit.forget();
            ptx.feed(Message::Text(frame(payload()).into()))
                .await
                .map_err(|e| e.to_string())?;
            published += 1;
            if window.available_permits() == 0 {
                ptx.flush().await.map_err(|e| e.to_string())?;
            }
        }
    } else {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        while Instant::now() < deadline {
            tick.tick().await;
            let due = (started.elapsed().as_secs_f64() * args.rate as f64) as u64;
            while published < due {
                ptx.feed(Message::Text(frame(payload()).into()))
                    .await
                    .map_err(|e| e.to_string())?;
                published += 1;
            }
            ptx.flush().await.map_err(|e| e.to_string())?;
        }
    }
    ptx.flush().await.map_err(|e| e.to_string())?;
    let publish_elapsed = started.elapsed();
    let expected = published * args.subscribers as u64;
    let drain_deadline = Instant::now() + Duration::from_millis(common.drain_ms);
    while delivered.load(Relaxed) < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (server_cpu, loadgen_cpu) = cpu.finish();
    let others_cpu = others.finish();
    stop.store(true, Relaxed);
    let delivered_n = delivered.load(Relaxed);
    let span_ns = last_delivery_ns
        .load(Relaxed)
        .saturating_sub(started_ns)
        .max(1);
    let _ = ptx.close().await;
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_millis(100), ack_reader).await {
        return Err(e);
    }
    drop(readers);

    let mut out = Map::new();
    out.insert("subscribers".into(), json!(args.subscribers));
    out.insert("target_rate".into(), json!(args.rate));
    out.insert("batch".into(), json!(args.batch));
    out.insert("published".into(), json!(published));
    out.insert("acked".into(), json!(acked.load(Relaxed)));
    out.insert(
        "offered_per_sec".into(),
        json!(published as f64 / secs(publish_elapsed)),
    );
    out.insert("delivered".into(), json!(delivered_n));
    out.insert(
        "delivered_per_sec".into(),
        json!(delivered_n as f64 / (span_ns as f64 / 1e9)),
    );
    out.insert(
        "missing".into(),
        json!(expected.saturating_sub(delivered_n)),
    );
    out.insert("latency".into(), latency.summary());
    out.insert("server_cpu_s".into(), json!(server_cpu));
    out.insert("loadgen_cpu_s".into(), json!(loadgen_cpu));
    out.insert(
        "deliveries_per_server_cpu_s".into(),
        json!(per_cpu_second(delivered_n, server_cpu)),
    );
    report_others(&mut out, "deliveries", delivered_n, server_cpu, others_cpu);
    print("fanout", out);
    Ok(())
}
