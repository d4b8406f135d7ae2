//! `hub-faults workload`: clients that use the hub through a fault run and
//! record everything they do and see into the history (`history.rs`).
//!
//! Each user `u<i>` keeps one session (the `ack` feature), on the nodes in
//! turn: when its session ends it connects again to the next node. It
//! watches the next user, pings every half second (`alive`), acknowledges
//! each stored message it is handed (`acked`), and while the run sends,
//! sends stored messages (`msg_id` = `u<i>:<n>`, the payload the same) to
//! the other users in turn, recording each answer. As hub-client does, a
//! send its session ended before answering is sent again, with the same
//! `msg_id`, first thing on the next session (the hub stores it once);
//! what is still unanswered when the run ends is recorded `no_answer`.
//! After the sending time, the users stay for the drain time, so that what
//! was queued for them is handed over, then leave. Each user also
//! publishes to, and keeps recovering, one topic with history (`feed.rs`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::feed::Feed;

/// How long a session may stay silent (no pong, no frame) before its user
/// gives it up and connects again.
const SILENCE: Duration = Duration::from_secs(3);

/// What a run looks like.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) urls: Vec<String>,
    pub(crate) users: usize,
    pub(crate) sending: Duration,
    pub(crate) drain: Duration,
    /// Sends per second per user.
    pub(crate) rate: u32,
}

/// The history's writer: lines in, one file out, `t` from one clock.
#[derive(Clone)]
struct Recorder {
    start: Instant,
    lines: mpsc::UnboundedSender<String>,
}

impl Recorder {
    /// Milliseconds since the run began.
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn record(&self, mut line: Value) {
        line["t"] = json!(self.now());
        let _ = self.lines.send(line.to_string());
    }
}

/// Runs the plan, writing the history to `path`, and the moment it began
/// (Unix milliseconds) to `path` + `.start` for the runner's fault lines.
pub(crate) async fn run(plan: Plan, path: &std::path::Path) -> std::io::Result<()> {
    let mut file = tokio::fs::File::create(path).await?;
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    tokio::fs::write(path.with_extension("start"), unix_ms.to_string()).await?;
    let (lines, mut written) = mpsc::unbounded_channel::<String>();
    let recorder = Recorder {
        start: Instant::now(),
        lines,
    };
    let writer = tokio::spawn(async move {
        while let Some(line) = written.recv().await {
            file.write_all(line.as_bytes()).await?;
            file.write_all(b"\n").await?;
        }
        file.flush().await
    });
    let plan = Arc::new(plan);
    let until_sending = Instant::now() + plan.sending;
    let until_end = until_sending + plan.drain;
    let users: Vec<_> = (0..plan.users)
        .map(|i| {
            let (plan, recorder) = (plan.clone(), recorder.clone());
            tokio::spawn(user(i, plan, recorder, until_sending, until_end))
        })
        .collect();
    for user in users {
        let _ = user.await;
    }
    drop(recorder);
    writer.await.map_err(std::io::Error::other)?
}

/// One user's life through the run.
async fn user(
    i: usize,
    plan: Arc<Plan>,
    recorder: Recorder,
    until_sending: Instant,
    until_end: Instant,
) {
    let me = format!("u{i}");
    let watched = format!("u{}", (i + 1) % plan.users);
    let mut next = 0u64;
    // Sends not answered yet, in the order they were made: (msg, to).
    let mut unanswered: Vec<(String, String, u64)> = Vec::new();
    let mut feed = Feed::default();
    let mut attempt = i;
    while Instant::now() < until_end {
        let url = &plan.urls[attempt % plan.urls.len()];
        attempt += 1;
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let connect = json!({"type": "hub:connect", "id": "c", "address": me, "features": ["ack"]});
        if ws.send(Message::text(connect.to_string())).await.is_err() {
            continue;
        }
        let session = match next_frame(&mut ws).await {
            Some(f) if f["type"] == "hub:connected" => {
                f["session_id"].as_str().unwrap_or("?").to_owned()
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        recorder.record(json!({"op": "connected", "address": me, "session": session}));
        let watch = json!({"type": "hub:watch", "id": "w", "address": watched});
        let _ = ws.send(Message::text(watch.to_string())).await;
        let code = session_life(
            &mut ws,
            &plan,
            &recorder,
            (&me, &session, &watched),
            (&mut next, &mut unanswered, &mut feed),
            (until_sending, until_end),
        )
        .await;
        recorder.record(json!({"op": "closed", "session": session, "code": code}));
    }
    for (msg, to, first_t) in unanswered {
        let line = json!({"op": "sent", "from": me, "to": to, "msg": msg, "status": "no_answer", "first_t": first_t});
        recorder.record(line);
    }
}

/// One session, until it ends (its close code, 0 without one) or the run
/// does (1000, after `hub:disconnect`).
async fn session_life(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    plan: &Plan,
    recorder: &Recorder,
    (me, session, watched): (&str, &str, &str),
    (next, unanswered, feed): (&mut u64, &mut Vec<(String, String, u64)>, &mut Feed),
    (until_sending, until_end): (Instant, Instant),
) -> u16 {
    let me_index: usize = me[1..].parse().unwrap_or(0);
    // What the last session left unanswered goes first, in its order.
    for (msg, to, _) in unanswered.iter() {
        let send = json!({"type": "hub:send", "id": msg, "to": to, "payload": msg, "msg_id": msg});
        if ws.send(Message::text(send.to_string())).await.is_err() {
            return 0;
        }
    }
    for frame in feed.begin(recorder.now()) {
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            return 0;
        }
    }
    let mut sends = tokio::time::interval(Duration::from_secs(1) / plan.rate.max(1));
    let mut publishes = tokio::time::interval(Duration::from_secs(1));
    let mut recoveries = tokio::time::interval(Duration::from_secs(2));
    recoveries.reset();
    let mut pings = tokio::time::interval(Duration::from_millis(500));
    // A session silent this long is given up, as a client's heartbeat does.
    let mut last_heard = Instant::now();
    let end = tokio::time::sleep_until(until_end);
    tokio::pin!(end);
    let code = loop {
        tokio::select! {
            _ = &mut end => {
                let _ = ws.send(Message::text(r#"{"type":"hub:disconnect"}"#)).await;
                break 1000;
            }
            _ = sends.tick(), if Instant::now() < until_sending => {
                *next += 1;
                let to = format!("u{}", (me_index + *next as usize) % plan.users);
                if to == me {
                    continue;
                }
                let msg = format!("{me}:{next}");
                let send = json!({"type": "hub:send", "id": msg, "to": to, "payload": msg, "msg_id": msg});
                unanswered.push((msg, to, recorder.now()));
                if ws.send(Message::text(send.to_string())).await.is_err() {
                    break 0;
                }
            }
            _ = publishes.tick(), if Instant::now() < until_sending => {
                if ws.send(Message::text(feed.publish(me).to_string())).await.is_err() {
                    break 0;
                }
            }
            _ = recoveries.tick(), if Instant::now() < until_sending => {
                for frame in feed.again(recorder.now()) {
                    if ws.send(Message::text(frame.to_string())).await.is_err() {
                        break;
                    }
                }
            }
            _ = pings.tick() => {
                if last_heard.elapsed() > SILENCE {
                    break 0;
                }
                if ws.send(Message::text(r#"{"type":"hub:ping","id":"p"}"#)).await.is_err() {
                    break 0;
                }
            }
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(close))) => break close.map_or(0, |c| u16::from(c.code)),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break 0,
                };
                last_heard = Instant::now();
                let Ok(f) = serde_json::from_str::<Value>(&text) else { continue };
                if let Some(lines) = feed.on_frame(&f, session, me) {
                    for line in lines {
                        recorder.record(line);
                    }
                    continue;
                }
                match f["type"].as_str().unwrap_or("") {
                    "hub:delivery_ack" => {
                        let id = f["id"].as_str().unwrap_or("");
                        if let Some(at) = unanswered.iter().position(|(msg, _, _)| msg == id) {
                            let (msg, to, _) = unanswered.remove(at);
                            recorder.record(json!({"op": "sent", "from": me, "to": to, "msg": msg, "status": f["status"]}));
                        }
                    }
                    "hub:message" => {
                        let seq = f["seq"].as_u64();
                        recorder.record(json!({
                            "op": "delivered", "session": session, "to": me,
                            "from": f["from"], "msg": f["payload"], "seq": seq,
                        }));
                        if let Some(seq) = seq {
                            let ack = json!({"type": "hub:ack", "seq": seq});
                            if ws.send(Message::text(ack.to_string())).await.is_err() {
                                break 0;
                            }
                            recorder.record(json!({"op": "acked", "session": session, "to": me, "seq": seq}));
                        }
                    }
                    "hub:pong" => recorder.record(json!({"op": "alive", "session": session, "address": me})),
                    "hub:watch_ack" => {
                        let event = if f["online"] == true { "online" } else { "offline" };
                        recorder.record(json!({"op": "watched", "watcher": session, "address": watched, "event": event}));
                    }
                    "hub:online" | "hub:offline" => {
                        let event = if f["type"] == "hub:online" { "online" } else { "offline" };
                        recorder.record(json!({"op": "watched", "watcher": session, "address": f["address"], "event": event}));
                    }
                    _ => {}
                }
            }
        }
    };
    code
}

async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        if let Ok(Message::Text(text)) = frame {
            return serde_json::from_str(&text).ok();
        }
    }
}
