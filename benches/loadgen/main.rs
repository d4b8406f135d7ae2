//! `hub-bench`: the Signal Hub load generator. Loopback only, every run
//! bounded in count and time. See docs/PERFORMANCE.md for how it is used.
//!
//! ```text
//! hub-bench --url ws://127.0.0.1:8080/ws --server-pid PID fanout --subscribers 1000
//! hub-bench ... pairs --pairs 100
//! hub-bench ... idle --connections 10000
//! hub-bench ... churn --cycles 50000
//! hub-bench ... stored --senders 16 --window 32
//! hub-bench --server-pid NATS_PID jetstream --publishers 16 --window 32
//! ```
#![allow(missing_docs)]

mod backend;
mod churn;
mod durable;
mod fanout;
mod flood;
mod idle;
mod pairs;
mod report;
mod stored;
mod wire;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use futures_util::StreamExt;
use tokio::sync::Semaphore;

/// Flags every scenario shares.
#[derive(Debug, Parser)]
#[command(version, about = "Signal Hub load generator (loopback only)")]
pub(crate) struct Common {
    /// The hub's WebSocket URL; must be on loopback.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws", global = true)]
    url: String,
    /// The server's process id, to read its CPU time and RSS from /proc.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// Measured duration in seconds (fanout, pairs).
    #[arg(long, default_value_t = 5.0, global = true)]
    duration: f64,
    /// How long to wait for stragglers after publishing stops, in milliseconds.
    #[arg(long, default_value_t = 2000, global = true)]
    drain_ms: u64,
    /// The server's HMAC secret, when it runs with `jwt_hmac_secret`: every
    /// client then connects with a token for its address.
    #[arg(long, global = true)]
    jwt_secret: Option<String>,
    /// Connections opened at once during setup.
    #[arg(long, default_value_t = 128, global = true)]
    connect_concurrency: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// S subscribers on one topic, one publisher.
    Fanout(fanout::FanoutArgs),
    /// P pairs exchanging direct messages ping-pong.
    Pairs(pairs::PairsArgs),
    /// C idle connections: server KiB per connection.
    Idle(idle::IdleArgs),
    /// Connect/subscribe/disconnect cycles: throughput and leaks.
    Churn(churn::ChurnArgs),
    /// One client floods bad input while a measured pair exchanges messages.
    Flood(flood::FloodArgs),
    /// N senders store direct messages for an away address, acked.
    Stored(stored::StoredArgs),
    /// N publishers publish to a NATS JetStream file stream, acked (the reference).
    Jetstream(stored::JetStreamArgs),
    /// N messages stored while an address is away, replayed when it connects.
    Replay(stored::ReplayArgs),
    /// Stored sends to recipients that keep dropping; checks nothing acked is lost.
    Durable(durable::DurableArgs),
    /// A stand-in application backend for the hub's proxies (runs until killed).
    Backend(backend::BackendArgs),
}

/// Opens `n` connections with bounded concurrency, registering
/// `address(i)` and subscribing to `topic(i)` when it gives one.
pub(crate) async fn connect_many(
    common: &Common,
    batch: bool,
    n: usize,
    address: impl Fn(usize) -> String,
    topic: impl Fn(usize) -> Option<String>,
) -> Result<Vec<wire::Ws>, String> {
    connect_many_at(common, &common.url, batch, n, address, topic).await
}

/// Like [`connect_many`], to `url` (another node of the hub).
pub(crate) async fn connect_many_at(
    common: &Common,
    url: &str,
    batch: bool,
    n: usize,
    address: impl Fn(usize) -> String,
    topic: impl Fn(usize) -> Option<String>,
) -> Result<Vec<wire::Ws>, String> {
    if !is_loopback(url) {
        return Err(format!("refusing {url}: loopback only"));
    }
    let gate = Arc::new(Semaphore::new(common.connect_concurrency.max(1)));
    let results = futures_util::stream::iter((0..n).map(|i| {
        let (gate, url, address, topic) = (gate.clone(), url.to_owned(), address(i), topic(i));
        async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            let mut ws = wire::connect(&url, &address, batch).await?;
            if let Some(topic) = topic {
                wire::subscribe(&mut ws, &topic).await?;
            }
            Ok::<_, String>(ws)
        }
    }))
    // `buffered`, not `buffer_unordered`: callers index the result by i.
    .buffered(common.connect_concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    results.into_iter().collect()
}

fn main() -> std::process::ExitCode {
    let common = Common::parse();
    if !is_loopback(&common.url) {
        eprintln!(
            "hub-bench: refusing {}: the load generator only targets loopback",
            common.url
        );
        return std::process::ExitCode::from(2);
    }
    if let Some(secret) = &common.jwt_secret {
        let _ = wire::JWT_SECRET.set(secret.clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match &common.scenario {
            Scenario::Fanout(a) => fanout::run(&common, a).await,
            Scenario::Pairs(a) => pairs::run(&common, a).await,
            Scenario::Idle(a) => idle::run(&common, a).await,
            Scenario::Churn(a) => churn::run(&common, a).await,
            Scenario::Flood(a) => flood::run(&common, a).await,
            Scenario::Stored(a) => stored::run_stored(&common, a).await,
            Scenario::Jetstream(a) => stored::run_jetstream(&common, a).await,
            Scenario::Replay(a) => stored::run_replay(&common, a).await,
            Scenario::Durable(a) => durable::run(&common, a).await,
            Scenario::Backend(a) => backend::run(a).await,
        }
    });
    // Don't wait for thousands of socket tasks to wind down.
    runtime.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .trim_start_matches("ws://")
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host == "localhost" || host.starts_with("127.") || host == "[" || url.starts_with("ws://[::1]")
}
