//! `pairs`: P pairs exchange direct messages ping-pong (one in flight per
//! pair) for a fixed time. Reports round trips per second and per server
//! CPU-second, RTT percentiles, and messages lost.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map};
use tokio_tungstenite::tungstenite::Message;

use crate::report::{per_cpu_second, print, report_others, CpuWindow, OtherCpus, SharedHistogram};
use crate::wire::{frame_type, now_ns, raise_fd_limit, stamp};
use crate::Common;

/// Flags of `hub-bench pairs`.
#[derive(Debug, clap::Args)]
pub(crate) struct PairsArgs {
    /// Pairs of clients.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Send fire-and-forget (`"ack": false`): no delivery ack per message.
    #[arg(long)]
    no_ack: bool,
    /// The echoing half of each pair connects here: another node of the
    /// same hub (Redis engine), so every message crosses nodes. Default: `--url`.
    #[arg(long)]
    peer_url: Option<String>,
    /// Other processes the run costs (the peer node, Redis): their CPU is
    /// reported as `others_cpu_s`, and round trips per CPU-second of the
    /// server and these together.
    #[arg(long, value_delimiter = ',')]
    other_pids: Vec<u32>,
}

pub(crate) async fn run(common: &Common, args: &PairsArgs) -> Result<(), String> {
    raise_fd_limit();
    let askers = crate::connect_many(
        common,
        false,
        args.pairs,
        |i| format!("pair-a-{i}"),
        |_| None,
    )
    .await?;
    let echoers = crate::connect_many_at(
        common,
        args.peer_url.as_deref().unwrap_or(&common.url),
        false,
        args.pairs,
        |i| format!("pair-b-{i}"),
        |_| None,
    )
    .await?;
    let round_trips = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicU64::new(0));
    let rtt = Arc::new(SharedHistogram::new());
    let ack = if args.no_ack { r#","ack":false"# } else { "" };
    let mut tasks = Vec::new();
    for (i, ws) in echoers.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            while let Some(Ok(Message::Text(text))) = rx.next().await {
                if frame_type(&text) == Some("hub:message") {
                    let t = stamp(&text).unwrap_or(0);
                    let reply = format!(
                        r#"{{"type":"hub:send","to":"pair-a-{i}"{ack},"payload":{{"t":{t}}}}}"#
                    );
                    if tx.send(Message::Text(reply.into())).await.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    let cpu = CpuWindow::start(common.server_pid);
    let others = OtherCpus::start(&args.other_pids);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(common.duration);
    let mut askers_done = Vec::new();
    for (i, ws) in askers.into_iter().enumerate() {
        let (round_trips, lost, rtt) = (round_trips.clone(), lost.clone(), rtt.clone());
        askers_done.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let mut batch = Vec::with_capacity(256);
            'outer: while Instant::now() < deadline {
                let ping = format!(
                    r#"{{"type":"hub:send","to":"pair-b-{i}"{ack},"payload":{{"t":{}}}}}"#,
                    now_ns()
                );
                if tx.send(Message::Text(ping.into())).await.is_err() {
                    break;
                }
                loop {
                    match tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
                        Ok(Some(Ok(Message::Text(text))))
                            if frame_type(&text) == Some("hub:message") =>
                        {
                            let sent = stamp(&text).unwrap_or(0);
                            batch.push(now_ns().saturating_sub(sent) / 1000);
                            round_trips.fetch_add(1, Relaxed);
                            if batch.len() == batch.capacity() {
                                rtt.record_batch(&batch);
                                batch.clear();
                            }
                            break;
                        }
                        Ok(Some(Ok(_))) => {}
                        Ok(_) => break 'outer,
                        Err(_) => {
                            lost.fetch_add(1, Relaxed);
                            break;
                        }
                    }
                }
            }
            rtt.record_batch(&batch);
        }));
    }
    for t in askers_done {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    let (server_cpu, loadgen_cpu) = cpu.finish();
    let others_cpu = others.finish();
    for t in tasks {
        t.abort();
    }
    let n = round_trips.load(Relaxed);
    let mut out = Map::new();
    out.insert("pairs".into(), json!(args.pairs));
    out.insert("acked_sends".into(), json!(!args.no_ack));
    out.insert("round_trips".into(), json!(n));
    out.insert(
        "round_trips_per_sec".into(),
        json!(n as f64 / elapsed.as_secs_f64()),
    );
    out.insert("lost".into(), json!(lost.load(Relaxed)));
    out.insert("rtt".into(), rtt.summary());
    out.insert("server_cpu_s".into(), json!(server_cpu));
    out.insert("loadgen_cpu_s".into(), json!(loadgen_cpu));
    out.insert(
        "round_trips_per_server_cpu_s".into(),
        json!(per_cpu_second(n, server_cpu)),
    );
    report_others(&mut out, "round_trips", n, server_cpu, others_cpu);
    print("pairs", out);
    Ok(())
}
