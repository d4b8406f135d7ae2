//! Nodes of one hub sharing a real Redis (the `redis` engine), over real
//! sockets: a publication reaches subscribers on every node, once and in
//! order, including right after a subscribe was acknowledged on another
//! node; a node holds a topic's channel in Redis only while it has
//! subscribers; a node that loses Redis keeps serving its own sessions,
//! says 503 on `/ready` with the reason, and when Redis comes back it
//! subscribes again and is ready.

#[path = "../common/mod.rs"]
mod common;

use common::redis::{
    eventually_ready, history_config, node_config, ready, ready_nodes, recover, Link, Redis,
};
use common::Event;
use common::*;
use hub_core::SendOptions;
use serde_json::{json, Value};

mod addresses;
mod cluster;
mod link;
mod presence;
mod sdk;
mod sentinel;
mod shards;
mod tls;
mod topics;

/// Reads `count` publications to `topic` and returns their payloads.
async fn messages(client: &mut Client, topic: &str, count: usize) -> Vec<Value> {
    let mut payloads = Vec::with_capacity(count);
    for _ in 0..count {
        let m = client.expect("hub:message").await;
        assert_eq!(m["topic"], topic, "{m}");
        payloads.push(m["payload"].clone());
    }
    payloads
}

/// Publishes as a subscriber of `topic`: reads the ack and its own copy
/// (in whichever order they come); returns the ack's local recipients.
async fn publish_to_own(client: &mut Client, topic: &str, payload: Value) -> u64 {
    client
        .send(json!({"type": "hub:publish", "id": "p", "topic": topic, "payload": payload}))
        .await;
    let (mut ack, mut copy) = (None, None);
    for _ in 0..2 {
        let f = client.next_frame().await;
        match f["type"].as_str() {
            Some("hub:publish_ack") => ack = Some(f),
            Some("hub:message") => copy = Some(f),
            _ => panic!("unexpected {f}"),
        }
    }
    let copy = copy.expect("its own copy");
    assert_eq!(copy["payload"], payload, "{copy}");
    ack.expect("an ack")["recipients"]
        .as_u64()
        .expect("recipients")
}

/// The real hub-server binary as a node of the hub on `redis` (under
/// `prefix`), with `extra` settings: a node to kill with SIGKILL.
async fn doomed_node(redis: &Redis, prefix: &str, extra: &[&str]) -> (TempDir, common::Binary) {
    let dir = TempDir::new("redis-node");
    let url = format!("redis_url={}", redis.url());
    let prefix = format!("redis_prefix={prefix}");
    let mut settings = vec!["engine=redis", &url, &prefix, "durability=off"];
    settings.extend_from_slice(extra);
    let node = common::Binary::start(&dir, free_port(), &settings).await;
    node.until_ready().await;
    (dir, node)
}

/// Whether `client`'s session is still open: a ping is answered, or the
/// session was closed with `duplicate_connection` (4500).
async fn alive(client: &mut Client) -> bool {
    client
        .send(json!({"type": "hub:ping", "id": "alive"}))
        .await;
    loop {
        match client.next_event().await {
            Event::Frame(f) if f["type"] == "hub:pong" => return true,
            Event::Frame(f) if f["type"] == "hub:disconnect" => continue,
            Event::Frame(f) => panic!("unexpected {f}"),
            Event::Closed { code, .. } => {
                assert_eq!(code, 4500, "evicted with duplicate_connection");
                return false;
            }
            Event::Eof => panic!("closed without a close frame"),
        }
    }
}

/// A node config whose `room` namespace tracks presence with joins and leaves.
fn presence_config(redis: &Redis, prefix: &str) -> hub_server::ServerConfig {
    let mut config = node_config(redis, prefix);
    config.hub.ttl_sweep_interval_ms = 100;
    let room = hub_core::permissions::NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..Default::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
}

async fn members(client: &mut Client, topic: &str) -> Vec<String> {
    let ack = client
        .request(json!({"type": "hub:presence", "id": "p", "topic": topic}))
        .await;
    assert_eq!(ack["type"], "hub:presence_ack", "{ack}");
    ack["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["address"].as_str().expect("address").to_owned())
        .collect()
}
