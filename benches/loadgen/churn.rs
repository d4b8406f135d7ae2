//! `churn`: connect / register / subscribe / disconnect cycles with bounded
//! concurrency. Reports cycles per second and the server's RSS after a
//! warm-up and at the end: a leak shows as growth.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map};

use crate::report::{print, rss_kib, CpuWindow};
use crate::wire::{connect, expect, raise_fd_limit, send, subscribe};
use crate::Common;

/// Time for the server to finish closing the sessions of the last cycles.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Flags of `hub-bench churn`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChurnArgs {
    /// Measured cycles.
    #[arg(long, default_value_t = 50_000)]
    cycles: u64,
    /// Cycles before the first RSS reading (pools and allocator arenas fill
    /// up). Measured: after 2,000 the growth over the next 50,000 cycles still
    /// varied from 0.2 to 4.3 %; after 10,000 it was 0.4–0.8 %.
    #[arg(long, default_value_t = 10_000)]
    warmup: u64,
    /// Cycles in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// A new address every cycle (spread over a sharded directory) instead
    /// of one per worker.
    #[arg(long)]
    fresh_addresses: bool,
}

async fn cycles(common: &Common, n: u64, args: &ChurnArgs, tag: &str) -> Result<(), String> {
    let (concurrency, fresh) = (args.concurrency, args.fresh_addresses);
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (next, url, tag) = (next.clone(), common.url.clone(), tag.to_owned());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Relaxed);
                if i >= n {
                    return Ok::<_, String>(());
                }
                let address = if fresh {
                    format!("churn-{tag}-{i}")
                } else {
                    format!("churn-{tag}-{w}")
                };
                let mut ws = connect(&url, &address, false).await?;
                subscribe(&mut ws, &format!("churn-{w}")).await?;
                send(&mut ws, r#"{"type":"hub:disconnect"}"#.into()).await?;
                expect(&mut ws, "hub:disconnect_ack").await?;
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())??;
    }
    Ok(())
}

pub(crate) async fn run(common: &Common, args: &ChurnArgs) -> Result<(), String> {
    raise_fd_limit();
    cycles(common, args.warmup, args, "warm").await?;
    // Both readings are taken after the server has closed its last sessions.
    tokio::time::sleep(SETTLE).await;
    let rss_start = common.server_pid.and_then(rss_kib);
    let cpu = CpuWindow::start(common.server_pid);
    let started = Instant::now();
    cycles(common, args.cycles, args, "run").await?;
    let elapsed = started.elapsed();
    let (server_cpu, _) = cpu.finish();
    tokio::time::sleep(SETTLE).await;
    let rss_end = common.server_pid.and_then(rss_kib);
    let growth = rss_start
        .zip(rss_end)
        .map(|(s, e)| (e as f64 - s as f64) / s as f64 * 100.0);
    let mut out = Map::new();
    out.insert("cycles".into(), json!(args.cycles));
    out.insert(
        "cycles_per_sec".into(),
        json!(args.cycles as f64 / elapsed.as_secs_f64()),
    );
    out.insert("server_cpu_s".into(), json!(server_cpu));
    out.insert(
        "cycles_per_server_cpu_s".into(),
        json!(crate::report::per_cpu_second(args.cycles, server_cpu)),
    );
    out.insert("server_rss_start_kib".into(), json!(rss_start));
    out.insert("server_rss_end_kib".into(), json!(rss_end));
    out.insert("rss_growth_pct".into(), json!(growth));
    print("churn", out);
    Ok(())
}
