//! `idle`: C connections, each registered and subscribed to a topic of its
//! own, held open; the server's RSS before and after gives KiB per
//! connection, and its CPU time over a quiet window what idle sessions cost
//! (the window is shorter than the heartbeat timeout: nobody pings).

use std::time::Duration;

use serde_json::{json, Map};

use crate::report::{cpu_seconds, print, rss_kib};
use crate::wire::raise_fd_limit;
use crate::Common;

/// Flags of `hub-bench idle`.
#[derive(Debug, clap::Args)]
pub(crate) struct IdleArgs {
    /// Connections to hold.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// How long to hold them before measuring, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,
    /// How long to watch the server's CPU while they idle, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    cpu_window_ms: u64,
    /// Loopback source addresses to spread the connections over (127.0.0.1,
    /// 127.0.0.2, ...): one address has about 28,000 ephemeral ports, so
    /// 100,000 connections need four.
    #[arg(long, default_value_t = 1)]
    sources: u8,
}

pub(crate) async fn run(common: &Common, args: &IdleArgs) -> Result<(), String> {
    raise_fd_limit();
    let before = common.server_pid.and_then(rss_kib);
    let held = if args.sources > 1 {
        spread(common, args.connections, args.sources).await?
    } else {
        crate::connect_many(
            common,
            false,
            args.connections,
            |i| format!("idle-{i}"),
            |i| Some(format!("idle-topic-{i}")),
        )
        .await?
    };
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let after = common.server_pid.and_then(rss_kib);
    let cpu_before = common.server_pid.and_then(cpu_seconds);
    tokio::time::sleep(Duration::from_millis(args.cpu_window_ms)).await;
    let cpu_after = common.server_pid.and_then(cpu_seconds);
    let window = args.cpu_window_ms as f64 / 1000.0;
    // Percent of one core over the window.
    let cpu_percent = cpu_before
        .zip(cpu_after)
        .map(|(b, a)| (a - b) / window * 100.0);
    let per_conn = before
        .zip(after)
        .map(|(b, a)| (a.saturating_sub(b)) as f64 / args.connections as f64);
    drop(held);
    let mut out = Map::new();
    out.insert("connections".into(), json!(args.connections));
    out.insert("server_rss_before_kib".into(), json!(before));
    out.insert("server_rss_after_kib".into(), json!(after));
    out.insert("kib_per_connection".into(), json!(per_conn));
    out.insert("idle_server_cpu_percent".into(), json!(cpu_percent));
    print("idle", out);
    Ok(())
}

/// `n` connections, the i-th from 127.0.0.(1 + i % sources), each
/// registered and subscribed to its own topic.
async fn spread(common: &Common, n: usize, sources: u8) -> Result<Vec<crate::wire::Ws>, String> {
    use futures_util::StreamExt;
    let concurrency = common.connect_concurrency.max(1);
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(concurrency));
    futures_util::stream::iter((0..n).map(|i| {
        let (gate, url) = (gate.clone(), common.url.clone());
        async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            let source = std::net::Ipv4Addr::new(127, 0, 0, 1 + (i % sources as usize) as u8);
            let mut ws =
                crate::wire::connect_from(&url, source.into(), &format!("idle-{i}")).await?;
            crate::wire::subscribe(&mut ws, &format!("idle-topic-{i}")).await?;
            Ok::<_, String>(ws)
        }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect()
}
