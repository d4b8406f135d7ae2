//! Stored direct messages on the Redis engine, over real sockets with a
//! real redis-server: an inbox belongs to the whole hub, so a message
//! stored through one node is handed out by whichever node its recipient
//! connects to, in `seq` order, until acknowledged; a `msg_id` is deduped
//! across nodes; and when a node is SIGKILLed no message acked `accepted`
//! or `queued` is lost — neither one held for a recipient there, nor one a
//! sender there retries through another node.

#[path = "../common/mod.rs"]
mod common;

use common::redis::{node_config, Redis};
use common::*;
use hub_core::SendOptions;
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

mod cut;
mod inboxes;
mod kills;

/// A node storing direct messages (in Redis, for the whole hub).
fn stored_config(redis: &Redis, prefix: &str) -> ServerConfig {
    let mut config = node_config(redis, prefix);
    config.durability = Durability::Memory;
    config
}

async fn started<const N: usize>(configs: [ServerConfig; N]) -> [hub_server::SpawnedServer; N] {
    let nodes = configs.map(start);
    for node in &nodes {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while http(node, "GET", "/ready", None, None).await.status != 200 {
            assert!(tokio::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    nodes
}

/// Connects `address` to `url` asking for the `ack` feature.
async fn acking(url: &str, address: &str) -> Client {
    let (c, connected) = Client::connect_url(url, address, &["ack"]).await;
    assert!(
        connected["features"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("ack"))),
        "{connected}"
    );
    c
}

/// Makes `address` known to the hub (connected once, on `url`), then
/// leaves. Its inbox is made in Redis just after `hub:connected` (one
/// round trip): a send racing the very first connect may still find no one,
/// so this waits until Redis has it.
async fn known_and_away(redis: &Redis, prefix: &str, url: &str, address: &str) {
    let mut c = acking(url, address).await;
    c.request(json!({"type": "hub:disconnect"})).await;
    let _ = c.until_close().await;
    inbox_made(redis, prefix, address).await;
}

/// Waits until Redis holds `address`'s inbox.
async fn inbox_made(redis: &Redis, prefix: &str, address: &str) {
    let key = format!("{prefix}{{i:{address}}}:s");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while redis.cli(&["EXISTS", &key]) != "1" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no inbox for {address}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
