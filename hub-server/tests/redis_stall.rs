//! No wait on Redis is unbounded: with Redis stalled (SIGSTOP: connections
//! open, nothing answered), every request of a connected session is
//! answered within `redis_command_timeout_ms` — refused `unavailable`, or a
//! recovery answered `recovered: false` — and the session keeps reading its
//! frames; when Redis comes back the node serves again.

mod common;

use common::redis::{eventually_ready, node_config, ready_nodes, Redis};
use common::*;
use hub_core::permissions::NamespaceOptions;
use serde_json::{json, Value};

/// Sends `frame` and reads until the answer to its `id` (publications in
/// between are skipped), within PATIENCE.
async fn answer_to(c: &mut Client, frame: Value) -> Value {
    let id = frame["id"].clone();
    c.send(frame).await;
    loop {
        let f = c.next_frame().await;
        if f["id"] == id {
            return f;
        }
    }
}

#[actix_rt::test]
async fn a_stalled_redis_cannot_wedge_a_session() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "st1:");
    config.durability = hub_server::Durability::Memory;
    let feed = NamespaceOptions {
        history_size: 10,
        ..NamespaceOptions::default()
    };
    let room = NamespaceOptions {
        track_presence: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config.hub.namespaces.insert("room".into(), room);
    let [node] = ready_nodes([config]).await;
    let (mut alice, _) = Client::connect(&node, "alice").await;
    let (mut bob, _) = Client::connect(&node, "bob").await;
    let ack = answer_to(
        &mut alice,
        json!({"type": "hub:subscribe", "id": "s0", "topic": "feed:x"}),
    )
    .await;
    let epoch = ack["epoch"].as_str().expect("an epoch").to_owned();
    answer_to(
        &mut alice,
        json!({"type": "hub:unsubscribe", "id": "u0", "topic": "feed:x"}),
    )
    .await;

    redis.pause(true);
    let requests = [
        json!({"type": "hub:subscribe", "id": "s1", "topic": "feed:x", "since": {"epoch": epoch, "offset": 0}}),
        json!({"type": "hub:publish", "id": "p1", "topic": "feed:x", "payload": 1}),
        json!({"type": "hub:send", "id": "d1", "to": "bob", "payload": 1}),
        json!({"type": "hub:send", "id": "d2", "to": "bob", "payload": 2, "msg_id": "m-2"}),
        json!({"type": "hub:publish", "id": "p2", "topic": "news", "payload": 2, "msg_id": "m-3"}),
        json!({"type": "hub:subscribe", "id": "s2", "topic": "room:a"}),
        json!({"type": "hub:presence", "id": "r1", "topic": "room:a"}),
        json!({"type": "hub:watch", "id": "w1", "address": "bob"}),
    ];
    let mut in_room = false;
    for request in requests {
        let answer = answer_to(&mut alice, request.clone()).await;
        if request["id"] == "s2" {
            in_room = answer["type"] == "hub:subscribe_ack";
        }
        let refused = (answer["code"] == "unavailable" && answer["temporary"] == true)
            || (answer["status"] == "rejected" && answer["reason"] == "unavailable");
        let subscribed = answer["type"] == "hub:subscribe_ack" && answer["recovered"] != true;
        assert!(refused || subscribed, "{request} answered {answer}");
        // Still reading: a ping right behind is answered.
        let pong = answer_to(&mut alice, json!({"type": "hub:ping", "id": "ping"})).await;
        assert_eq!(pong["type"], "hub:pong");
    }
    bob.expect_nothing_pending().await;

    redis.pause(false);
    eventually_ready(&node).await;
    let answer = answer_to(
        &mut alice,
        json!({"type": "hub:send", "id": "d3", "to": "bob", "payload": 3}),
    )
    .await;
    assert_eq!(answer["type"], "hub:delivery_ack", "{answer}");

    // A subscription acknowledged during the stall is a membership the hub
    // keeps: once Redis answers again, the presence lists alice (the
    // change is written again until Redis takes it); a refused one not.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let listed = loop {
        let page = answer_to(
            &mut alice,
            json!({"type": "hub:presence", "id": "r2", "topic": "room:a"}),
        )
        .await;
        let listed = page["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["address"] == "alice"));
        if listed == in_room || tokio::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(listed, in_room, "subscribed during the stall: {in_room}");
}
