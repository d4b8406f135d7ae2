//! `flood`: one client floods a kind of bad input — reconnecting each time it
//! is cut off, from its own address (127.0.0.2) so that per-IP caps apply to
//! it and not to the pair — while a measured pair exchanges direct messages at
//! a steady pace. Reports the pair's RTT percentiles (compare with `--kind none`),
//! and how long the server took to cut the flooder off each time. A refused
//! reconnect (per-IP caps) is retried after 5 ms.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map};
use tokio_tungstenite::tungstenite::Message;

use crate::report::{print, SharedHistogram};
use crate::wire::{connect, connect_from, frame_type, lines, now_ns, stamp};
use crate::Common;

/// What the flooder sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FloodKind {
    /// No flood: the baseline for the pair's latency.
    None,
    /// Text that is not JSON.
    Malformed,
    /// JSON frames of a type the server does not know.
    Unknown,
    /// Valid publishes, far over the rate limit.
    OverRate,
    /// Binary frames.
    Binary,
}

/// Flags of `hub-bench flood`.
#[derive(Debug, clap::Args)]
pub(crate) struct FloodArgs {
    /// The kind of bad input.
    #[arg(long, value_enum, default_value_t = FloodKind::Malformed)]
    kind: FloodKind,
    /// Round trips per second of the measured pair (it stays under the
    /// server's rate limit).
    #[arg(long, default_value_t = 200)]
    pair_rate: u64,
}

pub(crate) async fn run(common: &Common, args: &FloodArgs) -> Result<(), String> {
    let asker = connect(&common.url, "flood-pair-a", false).await?;
    let echoer = connect(&common.url, "flood-pair-b", false).await?;
    let echo = tokio::spawn(async move {
        let (mut tx, mut rx) = echoer.split();
        while let Some(Ok(Message::Text(text))) = rx.next().await {
            for line in lines(&text) {
                if frame_type(line) == Some("hub:message") {
                    let t = stamp(line).unwrap_or(0);
                    let reply = format!(
                        r#"{{"type":"hub:send","to":"flood-pair-a","ack":false,"payload":{{"t":{t}}}}}"#
                    );
                    if tx.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = (args.kind != FloodKind::None).then(|| {
        let (url, kind, stop) = (common.url.clone(), args.kind, stop.clone());
        // Its own thread and runtime, at the lowest priority: the flooder
        // writes as fast as it can, and on the load generator's one core it
        // must not delay the measured pair — only the server may.
        std::thread::spawn(move || {
            lowest_priority();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(flood(&url, kind, &stop))
        })
    });

    let rtt = SharedHistogram::new();
    let (mut tx, mut rx) = asker.split();
    let deadline = Instant::now() + Duration::from_secs_f64(common.duration);
    let mut pace = tokio::time::interval(Duration::from_secs(1) / args.pair_rate.max(1) as u32);
    let (mut round_trips, mut lost) = (0u64, 0u64);
    let mut batch = Vec::new();
    while Instant::now() < deadline {
        pace.tick().await;
        let ping = format!(
            r#"{{"type":"hub:send","to":"flood-pair-b","ack":false,"payload":{{"t":{}}}}}"#,
            now_ns()
        );
        tx.send(Message::Text(ping.into()))
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(5), rx.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if frame_type(&text) == Some("hub:message") => {
                batch.push(now_ns().saturating_sub(stamp(&text).unwrap_or(0)) / 1000);
                round_trips += 1;
            }
            Ok(Some(Ok(other))) => return Err(format!("the pair got {other:?}")),
            Ok(_) => return Err("the pair's connection ended".into()),
            Err(_) => lost += 1,
        }
    }
    rtt.record_batch(&batch);
    stop.store(true, Relaxed);
    echo.abort();
    let cutoffs = match flooder {
        Some(thread) => thread
            .join()
            .map_err(|_| "the flooder panicked".to_owned())??,
        None => Vec::new(),
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!(format!("{:?}", args.kind)));
    out.insert("round_trips".into(), json!(round_trips));
    out.insert("lost".into(), json!(lost));
    out.insert("rtt".into(), rtt.summary());
    out.insert("flood_connections".into(), json!(cutoffs.len()));
    let mut sorted = cutoffs.clone();
    sorted.sort_by(f64::total_cmp);
    out.insert(
        "cutoff_ms_median".into(),
        json!(sorted.get(sorted.len() / 2)),
    );
    out.insert("cutoff_ms_max".into(), json!(sorted.last()));
    print("flood", out);
    Ok(())
}

/// Lowers the calling thread's scheduling priority to the lowest (nice 19).
fn lowest_priority() {
    // SAFETY: setpriority only reads its three integer arguments; on Linux,
    // PRIO_PROCESS with who = 0 applies to the calling thread alone. A
    // failure leaves the priority as it was, which only makes the
    // measurement more pessimistic.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

/// Floods from fresh connections until `stop`; returns, per connection, the
/// milliseconds from its first bad frame until the server closed it.
async fn flood(url: &str, kind: FloodKind, stop: &AtomicBool) -> Result<Vec<f64>, String> {
    let mut cutoffs = Vec::new();
    let mut n = 0u64;
    while !stop.load(Relaxed) {
        n += 1;
        let source = std::net::IpAddr::from([127, 0, 0, 2]);
        let ws = match connect_from(url, source, &format!("flooder-{n}")).await {
            Ok(ws) => ws,
            // Refused (a per-IP cap, say): try again shortly, as a flooder would.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        let (mut tx, mut rx) = ws.split();
        let started = Instant::now();
        let reader = tokio::spawn(async move {
            // Reads (and drops) the answers until the close frame, or until
            // the server drops the connection right behind it.
            while let Some(item) = rx.next().await {
                match item {
                    Ok(Message::Close(_)) => return true,
                    Ok(_) => {}
                    Err(_) => return true,
                }
            }
            true
        });
        let mut i = 0u64;
        while !reader.is_finished() && !stop.load(Relaxed) {
            i += 1;
            let frame = match kind {
                FloodKind::None => unreachable!("no flooder without a kind"),
                FloodKind::Malformed => Message::Text("{not json".into()),
                FloodKind::Unknown => Message::Text(r#"{"type":"hub:teleport"}"#.into()),
                FloodKind::OverRate => Message::Text(
                    format!(r#"{{"type":"hub:publish","topic":"flood","payload":{i}}}"#).into(),
                ),
                FloodKind::Binary => Message::Binary(vec![0u8; 16].into()),
            };
            // Feed without flushing each frame, as a flooder would; flush
            // now and then so the bytes go out.
            if tx.feed(frame).await.is_err() {
                break;
            }
            if i.is_multiple_of(64) && tx.flush().await.is_err() {
                break;
            }
        }
        if stop.load(Relaxed) && !reader.is_finished() {
            // The run is over before the server cut this one off: not a cutoff.
            reader.abort();
            break;
        }
        if reader.await.unwrap_or(false) {
            cutoffs.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(cutoffs)
}
