//! `durable`: stored direct sends under churn, checked end to end. P
//! senders send numbered messages (each with a `msg_id`) to P recipients
//! that drop their connection every `--reconnect-every-ms` and come back;
//! a recipient asks for acks (`features: ["ack"]`) and acknowledges what
//! it took. At the end the senders stop, the recipients come back once
//! more and read until nothing more comes, and every message the hub
//! acknowledged (`accepted` or `queued`) must have arrived: `lost` is the
//! count of those that did not (the soak script fails on any). Replays of
//! messages handed over but not yet acknowledged when a recipient dropped
//! are counted as `replayed` (by `seq`), not as deliveries.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::report::print;
use crate::wire::{expect, lines, send, Ws};
use crate::Common;

/// Flags of `hub-bench durable`.
#[derive(Debug, clap::Args)]
pub(crate) struct DurableArgs {
    /// Sender/recipient pairs.
    #[arg(long, default_value_t = 20)]
    pairs: usize,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// How long a recipient stays connected before it drops.
    #[arg(long, default_value_t = 3000)]
    reconnect_every_ms: u64,
    /// How long it stays away.
    #[arg(long, default_value_t = 500)]
    away_ms: u64,
}

/// What one pair's recipient took, across its connections.
#[derive(Default)]
struct Taken {
    numbers: HashSet<u64>,
    last_seq: u64,
    replayed: u64,
}

async fn open(url: &str, address: &str, acks: bool) -> Result<Ws, String> {
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| e.to_string())?;
    let features = if acks { r#","features":["ack"]"# } else { "" };
    send(
        &mut ws,
        format!(r#"{{"type":"hub:connect","address":"{address}"{features}}}"#),
    )
    .await?;
    expect(&mut ws, "hub:connected").await?;
    Ok(ws)
}

/// Reads one connection's messages into `taken`, acking each, until
/// `until` (or, with `None`, until `quiet` passes without a message).
async fn take(
    ws: &mut Ws,
    taken: &Mutex<Taken>,
    until: Option<Instant>,
    quiet: Duration,
) -> Result<(), String> {
    loop {
        let wait = match until {
            Some(at) => at.saturating_duration_since(Instant::now()),
            None => quiet,
        };
        let next = match tokio::time::timeout(wait, ws.next()).await {
            Err(_) => return Ok(()),
            Ok(None) => return Err("the recipient's connection ended".into()),
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(Some(Ok(m))) => m,
        };
        let Message::Text(text) = next else { continue };
        let mut acks = None;
        for line in lines(&text) {
            let Ok(frame) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if frame["type"] != "hub:message" {
                continue;
            }
            let (Some(seq), Some(n)) = (frame["seq"].as_u64(), frame["payload"]["n"].as_u64())
            else {
                continue;
            };
            let mut t = taken.lock().await;
            if seq <= t.last_seq {
                t.replayed += 1;
            } else {
                t.last_seq = seq;
                t.numbers.insert(n);
            }
            acks = Some(seq);
        }
        if let Some(seq) = acks {
            send(ws, format!(r#"{{"type":"hub:ack","seq":{seq}}}"#)).await?;
        }
    }
}

pub(crate) async fn run(common: &Common, args: &DurableArgs) -> Result<(), String> {
    let end = Instant::now() + Duration::from_secs_f64(common.duration);
    let tag = std::process::id();
    let mut tasks = Vec::new();
    for pair in 0..args.pairs {
        let url = common.url.clone();
        let (rate, every, away) = (args.rate.max(1), args.reconnect_every_ms, args.away_ms);
        tasks.push(tokio::spawn(async move {
            let sender_address = format!("durable-sender-{tag}-{pair}");
            let recipient = format!("durable-recipient-{tag}-{pair}");
            let taken = Arc::new(Mutex::new(Taken::default()));
            // The recipient: on and off until the end.
            let reading = {
                let (url, recipient, taken) = (url.clone(), recipient.clone(), taken.clone());
                tokio::spawn(async move {
                    let mut connections = 0u64;
                    while Instant::now() < end {
                        let mut ws = open(&url, &recipient, true).await?;
                        connections += 1;
                        let until = (Instant::now() + Duration::from_millis(every)).min(end);
                        take(&mut ws, &taken, Some(until), Duration::ZERO).await?;
                        // Dropped without hub:disconnect: a lost connection.
                        drop(ws);
                        tokio::time::sleep(Duration::from_millis(away)).await;
                    }
                    Ok::<u64, String>(connections)
                })
            };
            // The sender: numbered messages, each until its delivery_ack.
            let mut ws = open(&url, &sender_address, false).await?;
            let mut acked = Vec::new();
            let (mut refused, mut n) = (0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            while Instant::now() < end {
                tick.tick().await;
                n += 1;
                let frame = json!({"type": "hub:send", "id": n, "to": recipient, "msg_id": format!("{tag}-{pair}-{n}"), "payload": {"n": n}});
                send(&mut ws, frame.to_string()).await?;
                loop {
                    let next = tokio::time::timeout(Duration::from_secs(30), ws.next())
                        .await
                        .map_err(|_| "no delivery_ack within 30 s".to_string())?;
                    let Some(Ok(Message::Text(text))) = next else {
                        return Err("the sender's connection ended".to_string());
                    };
                    let frame: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                    if frame["type"] != "hub:delivery_ack" {
                        continue;
                    }
                    match frame["status"].as_str() {
                        Some("accepted" | "queued") => acked.push(n),
                        _ => refused += 1,
                    }
                    break;
                }
            }
            let _ = ws.close(None).await;
            let connections = reading.await.map_err(|e| e.to_string())??;
            // Back once more, until nothing more comes.
            let mut ws = open(&url, &recipient, true).await?;
            take(&mut ws, &taken, None, Duration::from_secs(3)).await?;
            let taken = taken.lock().await;
            let lost: Vec<u64> = acked.iter().copied().filter(|n| !taken.numbers.contains(n)).collect();
            Ok::<_, String>((acked.len() as u64, refused, taken.numbers.len() as u64, taken.replayed, lost, connections))
        }));
    }
    let (mut acked, mut refused, mut received, mut replayed, mut connections) = (0, 0, 0, 0, 0);
    let mut lost = Vec::new();
    for task in tasks {
        let (a, r, got, rep, l, c) = task.await.map_err(|e| e.to_string())??;
        acked += a;
        refused += r;
        received += got;
        replayed += rep;
        connections += c;
        lost.extend(l);
    }
    let mut fields = Map::new();
    fields.insert("scenario".into(), json!("durable"));
    fields.insert("pairs".into(), json!(args.pairs));
    fields.insert("acked".into(), json!(acked));
    fields.insert("refused".into(), json!(refused));
    fields.insert("received".into(), json!(received));
    fields.insert("replayed".into(), json!(replayed));
    fields.insert("recipient_connections".into(), json!(connections));
    fields.insert("lost".into(), json!(lost.len()));
    print("durable", fields);
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} acknowledged messages never arrived, e.g. {:?}",
            lost.len(),
            &lost[..lost.len().min(10)]
        ))
    }
}
