//! `stored` and `jetstream`: acknowledged durable writes, for comparing the
//! hub's stored direct messages with NATS JetStream's acked publishes.
//!
//! - `stored`: N senders send direct messages to one address that is known
//!   and away, so every message is stored (`queued`); each keeps W sends in
//!   flight and times each until its `hub:delivery_ack`.
//! - `jetstream`: N publishers publish to a file-backed stream, each with W
//!   publishes in flight, timed until the stream's ack.
//!
//! Both report acknowledged messages per second and per server CPU-second
//! (`--server-pid`: the hub, or nats-server), and ack latency.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::FuturesOrdered;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map};
use tokio_tungstenite::tungstenite::Message;

use crate::report::{per_cpu_second, print, secs, CpuWindow, SharedHistogram};
use crate::wire::{frame_type, lines, now_ns};
use crate::Common;

/// Flags of `hub-bench stored`.
#[derive(Debug, clap::Args)]
pub(crate) struct StoredArgs {
    /// Sending connections.
    #[arg(long, default_value_t = 16)]
    senders: usize,
    /// Sends in flight per sender.
    #[arg(long, default_value_t = 32)]
    window: usize,
}

/// Flags of `hub-bench jetstream`.
#[derive(Debug, clap::Args)]
pub(crate) struct JetStreamArgs {
    /// The NATS server (loopback).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Publishing connections.
    #[arg(long, default_value_t = 16)]
    publishers: usize,
    /// Publishes in flight per publisher.
    #[arg(long, default_value_t = 32)]
    window: usize,
}

/// Counters both scenarios fill.
struct Tally {
    acked: AtomicU64,
    refused: AtomicU64,
    latency: SharedHistogram,
}

impl Tally {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            acked: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            latency: SharedHistogram::new(),
        })
    }

    /// One answer: acked after `waited` (its latency batched into `batch`,
    /// flushed every 256), or refused (`None`).
    fn answered(&self, waited: Option<Duration>, batch: &mut Vec<u64>) {
        match waited {
            Some(waited) => {
                self.acked.fetch_add(1, Relaxed);
                batch.push(waited.as_micros() as u64);
                if batch.len() >= 256 {
                    self.latency.record_batch(batch);
                    batch.clear();
                }
            }
            None => {
                self.refused.fetch_add(1, Relaxed);
            }
        }
    }

    fn report(&self, scenario: &str, common: &Common, cpu: &CpuWindow, elapsed: Duration) {
        let (server_cpu, me_cpu) = cpu.finish();
        let acked = self.acked.load(Relaxed);
        let mut f = Map::new();
        f.insert("acked".into(), json!(acked));
        f.insert("refused".into(), json!(self.refused.load(Relaxed)));
        f.insert("acked_per_sec".into(), json!(acked as f64 / secs(elapsed)));
        f.insert(
            "acked_per_server_cpu_s".into(),
            json!(per_cpu_second(acked, server_cpu)),
        );
        f.insert("server_cpu_s".into(), json!(server_cpu));
        f.insert("loadgen_cpu_s".into(), json!(me_cpu));
        f.insert("ack_latency".into(), self.latency.summary());
        f.insert("duration_s".into(), json!(common.duration));
        print(scenario, f);
    }
}

pub(crate) async fn run_stored(common: &Common, args: &StoredArgs) -> Result<(), String> {
    // The sink connects once and leaves: known, away, so every send is stored.
    let sink = crate::wire::connect(&common.url, "stored-sink", false).await?;
    drop(sink);
    // Like hub-client (and like the NATS client on the other side): the
    // `batch` feature, so answers due at once come in one message, and the
    // window's sends written together, flushed once.
    let senders = crate::connect_many(
        common,
        true,
        args.senders,
        |i| format!("stored-sender-{i}"),
        |_| None,
    )
    .await?;
    let tally = Tally::new();
    let cpu = CpuWindow::start(common.server_pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(common.duration);
    let drain = Duration::from_millis(common.drain_ms);
    let window = args.window.max(1);
    let mut tasks = Vec::new();
    for ws in senders {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            // One session's sends are answered in the order they were sent.
            let mut inflight: VecDeque<Instant> = VecDeque::with_capacity(window);
            let mut batch = Vec::with_capacity(256);
            let mut id = 0u64;
            loop {
                let sending = Instant::now() < deadline;
                let mut fed = false;
                while sending && inflight.len() < window {
                    id += 1;
                    let send = format!(
                        r#"{{"type":"hub:send","id":{id},"to":"stored-sink","payload":{{"t":{}}}}}"#,
                        now_ns()
                    );
                    if tx.feed(Message::Text(send.into())).await.is_err() {
                        return;
                    }
                    fed = true;
                    inflight.push_back(Instant::now());
                }
                if fed && tx.flush().await.is_err() {
                    return;
                }
                if inflight.is_empty() {
                    break;
                }
                let wait = if sending { Duration::from_secs(10) } else { drain };
                let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout(wait, rx.next()).await
                else {
                    break;
                };
                for line in lines(&text) {
                    if frame_type(line) != Some("hub:delivery_ack") {
                        continue;
                    }
                    let Some(sent) = inflight.pop_front() else {
                        continue;
                    };
                    let refused = line.contains(r#""status":"rejected""#);
                    tally.answered((!refused).then(|| sent.elapsed()), &mut batch);
                }
            }
            tally.latency.record_batch(&batch);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally.report(
        "stored",
        common,
        &cpu,
        started
            .elapsed()
            .min(Duration::from_secs_f64(common.duration) + drain),
    );
    Ok(())
}

pub(crate) async fn run_jetstream(common: &Common, args: &JetStreamArgs) -> Result<(), String> {
    use async_nats::jetstream::{self, stream};
    let setup = async_nats::connect(&args.nats_url)
        .await
        .map_err(|e| format!("nats: {e}"))?;
    let js = jetstream::new(setup);
    let _ = js.delete_stream("BENCH").await;
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.stored".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("jetstream stream: {e}"))?;
    let mut publishers = Vec::new();
    for _ in 0..args.publishers {
        let client = async_nats::connect(&args.nats_url)
            .await
            .map_err(|e| format!("nats: {e}"))?;
        publishers.push(jetstream::new(client));
    }
    let tally = Tally::new();
    let cpu = CpuWindow::start(common.server_pid);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(common.duration);
    let window = args.window.max(1);
    let mut tasks = Vec::new();
    for js in publishers {
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            let mut inflight = FuturesOrdered::new();
            let mut batch = Vec::with_capacity(256);
            loop {
                let sending = Instant::now() < deadline;
                while sending && inflight.len() < window {
                    let payload = format!(r#"{{"t":{}}}"#, now_ns());
                    let sent = Instant::now();
                    match js.publish("bench.stored", payload.into()).await {
                        Ok(ack) => inflight.push_back(async move { (sent, ack.await) }),
                        Err(_) => tally.answered(None, &mut batch),
                    }
                }
                let Some((sent, ack)) = inflight.next().await else {
                    break;
                };
                tally.answered(ack.is_ok().then(|| sent.elapsed()), &mut batch);
            }
            tally.latency.record_batch(&batch);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tally.report("jetstream", common, &cpu, started.elapsed());
    Ok(())
}

/// Flags of `hub-bench replay`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// Messages stored for the address while it is away.
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
}

/// `replay`: N messages are stored for an address that is away; it then
/// connects (with the `ack` feature, acknowledging as it reads) and the run
/// times how long until it has all of them, and the server CPU spent.
pub(crate) async fn run_replay(common: &Common, args: &ReplayArgs) -> Result<(), String> {
    let sink = crate::wire::connect(&common.url, "replay-sink", false).await?;
    drop(sink);
    let mut sender = crate::wire::connect(&common.url, "replay-sender", false).await?;
    let messages = args.messages.max(1);
    for i in 0..messages - 1 {
        let send = format!(r#"{{"type":"hub:send","to":"replay-sink","ack":false,"payload":{i}}}"#);
        sender
            .send(Message::Text(send.into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    // Answered in order: once the last is, every one before it is stored.
    let last = r#"{"type":"hub:send","id":"last","to":"replay-sink","payload":"last"}"#;
    sender
        .send(Message::Text(last.into()))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match tokio::time::timeout(Duration::from_secs(60), sender.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.contains(r#""id":"last""#) => {
                if text.contains("rejected") {
                    return Err(format!("the last send was refused: {text}"));
                }
                break;
            }
            Ok(Some(Ok(_))) => {}
            _ => return Err("the sends were not all answered".into()),
        }
    }
    let cpu = CpuWindow::start(common.server_pid);
    let started = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(common.url.as_str())
        .await
        .map_err(|e| e.to_string())?;
    let connect = r#"{"type":"hub:connect","address":"replay-sink","features":["batch","ack"]}"#;
    ws.send(Message::Text(connect.into()))
        .await
        .map_err(|e| e.to_string())?;
    let mut received = 0usize;
    let mut first_at = None;
    while received < messages {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(60), ws.next()).await
        else {
            return Err(format!("replay stopped after {received} messages"));
        };
        let mut highest = None;
        for line in lines(&text) {
            if frame_type(line) != Some("hub:message") {
                continue;
            }
            received += 1;
            first_at.get_or_insert_with(|| started.elapsed());
            highest = seq_of(line).or(highest);
        }
        if let Some(seq) = highest {
            let ack = format!(r#"{{"type":"hub:ack","seq":{seq}}}"#);
            ws.send(Message::Text(ack.into()))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let elapsed = started.elapsed();
    let (server_cpu, _) = cpu.finish();
    let mut f = Map::new();
    f.insert("messages".into(), json!(received));
    f.insert("replay_ms".into(), json!(elapsed.as_secs_f64() * 1000.0));
    f.insert(
        "first_message_ms".into(),
        json!(first_at.map(|d| d.as_secs_f64() * 1000.0)),
    );
    f.insert("server_cpu_s".into(), json!(server_cpu));
    f.insert(
        "messages_per_server_cpu_s".into(),
        json!(per_cpu_second(received as u64, server_cpu)),
    );
    print("replay", f);
    Ok(())
}

/// The `seq` of a stored `hub:message` line.
fn seq_of(line: &str) -> Option<u64> {
    let at = line.find(r#""seq":"#)? + 6;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}
