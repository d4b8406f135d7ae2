//! Durable direct delivery over real sockets: stored before answered,
//! `queued` for a known address that is away, replayed in `seq` order on
//! connect, kept until acknowledged, caps, TTL, and a store that survives a
//! restart.

#[path = "../common/mod.rs"]
mod common;

use common::engines::{Engine, Kind};
use common::*;
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};
use std::time::Duration;

mod disk;
mod rate;

fn durable_config() -> ServerConfig {
    let mut config = test_config();
    config.durability = Durability::Memory;
    config
}

/// Connects `address` asking for the `ack` feature.
async fn connect_acking(server: &hub_server::SpawnedServer, address: &str) -> Client {
    let mut c = Client::open(server).await;
    let connected = c
        .request(json!({"type": "hub:connect", "id": "c", "address": address, "features": ["ack"]}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert!(
        connected["features"]
            .as_array()
            .unwrap()
            .contains(&json!("ack")),
        "{connected}"
    );
    c
}

/// Makes `address` known (connected once), then leaves.
async fn known_and_away(server: &hub_server::SpawnedServer, address: &str) {
    let mut c = connect_acking(server, address).await;
    c.request(json!({"type": "hub:disconnect"})).await;
    let _ = c.until_close().await;
}

async fn an_away_address_gets_its_messages_in_order_once_acked(engine: Engine) {
    let server = engine.node().await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for i in 1..=3 {
        assert_eq!(send(&mut alice, "bob", json!(i)).await["status"], "queued");
    }
    // Unknown addresses are still refused: nothing is stored for them.
    let ack = send(&mut alice, "nobody", json!(0)).await;
    assert_eq!(ack["status"], "rejected");
    assert_eq!(ack["reason"], "recipient_not_found");

    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(
        take(&mut bob, 3).await,
        vec![(1, json!(1)), (2, json!(2)), (3, json!(3))]
    );
    // Live now: the next one is handed over at once, after the stored ones.
    assert_eq!(
        send(&mut alice, "bob", json!(4)).await["status"],
        "accepted"
    );
    assert_eq!(take(&mut bob, 1).await, vec![(4, json!(4))]);
    bob.send(json!({"type": "hub:ack", "seq": 4})).await;
    bob.expect_nothing_pending().await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;

    // Acknowledged: nothing comes back.
    let mut bob = connect_acking(&server, "bob").await;
    bob.expect_nothing_pending().await;
}

async fn what_was_not_acknowledged_is_delivered_again(engine: Engine) {
    let server = engine.node().await;
    let mut bob = connect_acking(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for i in 1..=3 {
        assert_eq!(
            send(&mut alice, "bob", json!(i)).await["status"],
            "accepted"
        );
    }
    assert_eq!(take(&mut bob, 3).await.len(), 3);
    bob.send(json!({"type": "hub:ack", "seq": 1})).await;
    bob.expect_nothing_pending().await;
    drop(bob); // the connection drops before 2 and 3 are acknowledged

    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 2).await, vec![(2, json!(2)), (3, json!(3))]);
    bob.send(json!({"type": "hub:ack", "seq": 3})).await;
    bob.expect_nothing_pending().await;
}

async fn at_most_a_window_is_handed_out_before_acks(engine: Engine) {
    let mut config = engine.config();
    config.hub.inbox_window = 2;
    let server = engine.start(config).await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for i in 1..=5 {
        assert_eq!(send(&mut alice, "bob", json!(i)).await["status"], "queued");
    }
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 2).await, vec![(1, json!(1)), (2, json!(2))]);
    bob.expect_nothing_pending().await;
    bob.send(json!({"type": "hub:ack", "seq": 2})).await;
    assert_eq!(take(&mut bob, 2).await, vec![(3, json!(3)), (4, json!(4))]);
    bob.send(json!({"type": "hub:ack", "seq": 4})).await;
    assert_eq!(take(&mut bob, 1).await, vec![(5, json!(5))]);
    // A live send while the window is full waits its turn: queued, then in order.
    assert_eq!(
        send(&mut alice, "bob", json!(6)).await["status"],
        "accepted"
    );
    assert_eq!(send(&mut alice, "bob", json!(7)).await["status"], "queued");
    assert_eq!(take(&mut bob, 1).await, vec![(6, json!(6))]);
    bob.send(json!({"type": "hub:ack", "seq": 6})).await;
    assert_eq!(take(&mut bob, 1).await, vec![(7, json!(7))]);
}

async fn a_client_without_acks_takes_each_message_once(engine: Engine) {
    let server = engine.node().await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(
        send(&mut alice, "bob", json!("hello")).await["status"],
        "queued"
    );
    let (mut bob, connected) = Client::connect(&server, "bob").await;
    assert!(!connected["features"]
        .as_array()
        .unwrap()
        .contains(&json!("ack")));
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!("hello"))]);
    drop(bob);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.expect_nothing_pending().await;
}

async fn inbox_caps_refuse_with_recipient_queue_full(engine: Engine) {
    let mut config = engine.config();
    config.hub.inbox_max_messages = 2;
    let server = engine.start(config).await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(send(&mut alice, "bob", json!(1)).await["status"], "queued");
    assert_eq!(send(&mut alice, "bob", json!(2)).await["status"], "queued");
    let full = send(&mut alice, "bob", json!(3)).await;
    assert_eq!(full["status"], "rejected");
    assert_eq!(full["reason"], "recipient_queue_full");
    // Taking them makes room.
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 2).await.len(), 2);
    bob.send(json!({"type": "hub:ack", "seq": 2})).await;
    bob.expect_nothing_pending().await;
    assert_eq!(
        send(&mut alice, "bob", json!(4)).await["status"],
        "accepted"
    );
}

async fn expired_messages_are_dropped_and_counted(engine: Engine) {
    let mut config = engine.config();
    config.hub.message_ttl_ms = 200;
    let server = engine.start(config).await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(
        send(&mut alice, "bob", json!("old")).await["status"],
        "queued"
    );
    // Waits out the TTL (a lower bound; nothing is asserted about timing).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        send(&mut alice, "bob", json!("new")).await["status"],
        "queued"
    );
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 1).await, vec![(2, json!("new"))]);
    bob.expect_nothing_pending().await;
    eventually("the expired message is counted", || {
        metric(&server, |m| m.inbox_expired_total) == 1
    })
    .await;
}

/// A retried `hub:send` (same `msg_id`, target and payload) is answered
/// again and stored once; the same `msg_id` for another message is
/// `idempotency_conflict`; the memory survives a restart (on disk and in
/// Redis).
async fn a_retried_send_is_stored_once(engine: Engine) {
    let server = engine.node().await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let frame =
        json!({"type": "hub:send", "id": 1, "to": "bob", "payload": "pay", "msg_id": "m-1"});
    for _ in 0..2 {
        let ack = alice.request(frame.clone()).await;
        assert_eq!(ack["status"], "queued", "{ack}");
    }
    let conflict = alice
        .request(
            json!({"type": "hub:send", "id": 2, "to": "bob", "payload": "other", "msg_id": "m-1"}),
        )
        .await;
    assert_eq!(conflict["status"], "rejected", "{conflict}");
    assert_eq!(conflict["reason"], "idempotency_conflict", "{conflict}");
    drop(alice);
    // In memory nothing outlives the node; on disk and in Redis it does.
    let server = if engine.kind == Kind::Memory {
        server
    } else {
        server.shutdown();
        engine.node().await
    };
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let ack = alice.request(frame).await;
    assert_eq!(
        ack["status"], "queued",
        "remembered across the restart: {ack}"
    );
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!("pay"))]);
    bob.expect_nothing_pending().await;
}

/// `receipt: true`: when the recipient acknowledges, the sender gets
/// `hub:receipt` (delivered); when the TTL passes first, `expired`. A
/// receipt is stored for the sender like a message: one that is away
/// gets it on connect.
async fn receipts_report_delivery_and_expiry(engine: Engine) {
    let mut config = engine.config();
    config.hub.message_ttl_ms = 300;
    let server = engine.start(config).await;
    known_and_away(&server, "bob").await;
    let mut alice = connect_acking(&server, "alice").await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": "r1", "to": "bob", "payload": 1, "msg_id": "m-1", "receipt": true}))
        .await;
    assert_eq!(ack["status"], "queued", "{ack}");
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!(1))]);
    bob.send(json!({"type": "hub:ack", "seq": 1})).await;
    let receipt = alice.expect("hub:receipt").await;
    assert_eq!(receipt["id"], "r1", "{receipt}");
    assert_eq!(receipt["msg_id"], "m-1");
    assert_eq!(receipt["to"], "bob");
    assert_eq!(receipt["status"], "delivered");
    let seq = receipt["seq"]
        .as_u64()
        .expect("a receipt is stored: it has a seq");
    alice.send(json!({"type": "hub:ack", "seq": seq})).await;

    // Expiry: bob leaves; a message with a receipt waits out its TTL
    // (a lower bound) while alice is away too; she gets the receipt on connect.
    drop(bob);
    let ack = alice
        .request(json!({"type": "hub:send", "id": 2, "to": "bob", "payload": 2, "receipt": true}))
        .await;
    assert!(
        ack["status"] == "queued" || ack["status"] == "accepted",
        "{ack}"
    );
    alice.request(json!({"type": "hub:disconnect"})).await;
    let _ = alice.until_close().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut bob = connect_acking(&server, "bob").await;
    bob.expect_nothing_pending().await;
    let mut alice = connect_acking(&server, "alice").await;
    let receipt = alice.expect("hub:receipt").await;
    assert_eq!(receipt["status"], "expired", "{receipt}");
    assert_eq!(receipt["id"], 2);
    assert_eq!(receipt["to"], "bob");
}

/// A sender that pipelines many stored sends is held back by its socket
/// (the session stops reading while half an outbound queue of answers is
/// due), not cut off as a slow consumer when a commit answers them all at
/// once.
async fn a_pipelining_sender_is_paced_not_cut(engine: Engine) {
    let mut config = engine.config();
    config.hub.outbound_queue_frames = 64;
    config.hub.inbox_window = 64;
    let server = engine.start(config).await;
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    // Rounds of 500 sends written before any answer is read: far more than
    // the 32 the session lets wait at once, and (about 35 KB of answers)
    // well within what the kernel's socket buffers hold for a client that
    // reads after writing.
    for round in 0..6 {
        let ids = round * 500..(round + 1) * 500;
        for i in ids.clone() {
            alice
                .send(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i}))
                .await;
        }
        for i in ids {
            let ack = alice.expect("hub:delivery_ack").await;
            assert_eq!(ack["id"], i, "answered in order");
            assert_eq!(ack["status"], "queued", "{ack}");
        }
    }
    alice.expect_nothing_pending().await;
}

// One test per engine of each: memory, redb and Redis.
on_every_engine!(
    an_away_address_gets_its_messages_in_order_once_acked,
    what_was_not_acknowledged_is_delivered_again,
    at_most_a_window_is_handed_out_before_acks,
    a_client_without_acks_takes_each_message_once,
    inbox_caps_refuse_with_recipient_queue_full,
    a_retried_send_is_stored_once,
    receipts_report_delivery_and_expiry,
    expired_messages_are_dropped_and_counted,
    a_pipelining_sender_is_paced_not_cut,
);
