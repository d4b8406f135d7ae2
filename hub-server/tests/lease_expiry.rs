//! An address whose lease runs out (close 4003) is gone for good: it goes
//! offline when the lease ends and leaves its topics with it, not an
//! `offline_grace_ms` later (which is for a dropped connection that may come
//! back). One test, run on both engines.

mod common;

use std::time::Duration;

use common::redis::{node_config, ready_nodes, Redis};
use common::*;
use hub_core::permissions::NamespaceOptions;
use hub_server::ServerConfig;
use serde_json::json;

/// Short leases, a grace window far longer than PATIENCE (a leave that
/// waited for it would never come in time), `room` with joins and leaves.
fn with_short_leases(mut config: ServerConfig) -> ServerConfig {
    config.hub.registration_ttl_ms = 400;
    config.hub.ttl_sweep_interval_ms = 20;
    config.hub.offline_grace_ms = 60_000;
    let room = NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
}

async fn offline_and_leave_come_together(server: &hub_server::SpawnedServer) {
    let (mut watcher, _) = Client::connect(server, "watcher").await;
    watcher.subscribe("room:a").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "stale"}))
        .await;
    assert_eq!(ack["online"], false, "{ack}");

    let (mut stale, _) = Client::connect(server, "stale").await;
    stale.subscribe("room:a").await;
    // The watcher stays alive (its own lease renewed by its pings) and
    // hears the stale one come, then go: offline and leave, both.
    let (mut online, mut joined, mut offline, mut left) = (false, false, false, false);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !(offline && left) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "within PATIENCE: online {online}, join {joined}, offline {offline}, leave {left}"
        );
        watcher.send(json!({"type": "hub:ping"})).await;
        let f = watcher.next_frame().await;
        match (f["type"].as_str(), f["address"].as_str()) {
            (Some("hub:pong"), _) => tokio::time::sleep(Duration::from_millis(50)).await,
            (Some("hub:online"), Some("stale")) => online = true,
            (Some("hub:join"), Some("stale")) => joined = true,
            (Some("hub:offline"), Some("stale")) => offline = true,
            (Some("hub:leave"), Some("stale")) => left = true,
            _ => panic!("unexpected {f}"),
        }
    }
    assert!(online && joined, "it came first");
    let (_, code) = stale.until_close().await;
    assert_eq!(code, 4003);
}

#[actix_rt::test]
async fn a_lease_that_runs_out_leaves_its_topics_with_its_offline() {
    let server = start(with_short_leases(test_config()));
    offline_and_leave_come_together(&server).await;
}

#[actix_rt::test]
async fn a_lease_that_runs_out_leaves_its_topics_with_its_offline_on_redis() {
    let redis = Redis::start().await;
    let [node] = ready_nodes([with_short_leases(node_config(&redis, "le1:"))]).await;
    offline_and_leave_come_together(&node).await;
}
