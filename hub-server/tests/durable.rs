//! Durable direct delivery over real sockets: stored before answered,
//! `queued` for a known address that is away, replayed in `seq` order on
//! connect, kept until acknowledged, caps, TTL, and a store that survives a
//! restart.

mod common;

use std::time::Duration;

use common::engines::{Engine, Kind};
use common::*;
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};

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

fn disk_config(dir: &TempDir) -> ServerConfig {
    let mut config = test_config();
    config.durability = Durability::Disk;
    config.data_dir = dir.0.display().to_string();
    config
}

#[tokio::test]
async fn the_disk_store_survives_a_restart() {
    let dir = TempDir::new("restart");
    let server = start(disk_config(&dir));
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for i in 1..=3 {
        assert_eq!(send(&mut alice, "bob", json!(i)).await["status"], "queued");
    }
    drop(alice);
    server.shutdown();

    let server = start(disk_config(&dir));
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(
        take(&mut bob, 3).await,
        vec![(1, json!(1)), (2, json!(2)), (3, json!(3))]
    );
    bob.send(json!({"type": "hub:ack", "seq": 2})).await;
    bob.expect_nothing_pending().await;
    drop(bob);
    // bob is still known after the restart: a new message is queued after 3.
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(send(&mut alice, "bob", json!(4)).await["status"], "queued");
    drop(alice);
    server.shutdown();

    let server = start(disk_config(&dir));
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 2).await, vec![(3, json!(3)), (4, json!(4))]);
}

#[test]
fn a_foreign_file_is_refused_and_left_alone() {
    let dir = TempDir::new("foreign");
    let path = dir.0.join("inbox.redb");
    std::fs::write(&path, b"this is not a database, and it is someone's data").unwrap();
    let error = hub_server::spawn(disk_config(&dir))
        .unwrap_err()
        .to_string();
    assert!(error.contains("inbox.redb"), "{error}");
    assert!(error.contains("untouched"), "{error}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"this is not a database, and it is someone's data"
    );
}

/// The real binary, SIGKILLed in the middle of a stream of sends: after a
/// restart on the same directory, every message whose ack said `queued`
/// is delivered, each exactly once, in `seq` order.
#[tokio::test(flavor = "multi_thread")]
async fn nothing_acked_is_lost_to_kill_9() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = TempDir::new("kill9");
    let port = free_port();
    let hub = Binary::start(&dir, port, &[]).await;
    let mut bob = Client::connect_url(&hub.url, "bob", &["ack"]).await.0;
    bob.request(json!({"type": "hub:disconnect"})).await;
    drop(bob);

    // alice writes sends as fast as she can while another task reads the acks.
    let (ws, _) = tokio_tungstenite::connect_async(&hub.url).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let connect = json!({"type": "hub:connect", "id": "c", "address": "alice"});
    tx.send(Message::Text(connect.to_string().into()))
        .await
        .unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = answered.clone();
    let acks = tokio::spawn(async move {
        let mut queued = Vec::new();
        while let Some(Ok(Message::Text(text))) = rx.next().await {
            for line in text.lines() {
                let frame: Value = serde_json::from_str(line).unwrap();
                if frame["type"] == "hub:delivery_ack" {
                    // Stored either way; `accepted` while bob's leaving is
                    // still on its way to the inbox actor.
                    let status = frame["status"].as_str().unwrap_or_default();
                    assert!(status == "queued" || status == "accepted", "{frame}");
                    queued.push(frame["id"].as_u64().unwrap());
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        queued
    });
    let writer = tokio::spawn(async move {
        for i in 0..20_000u64 {
            let send = json!({"type": "hub:send", "id": i, "to": "bob", "payload": i});
            if tx
                .send(Message::Text(send.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    // Kill once 500 sends have been answered, with more on their way.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 500 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sends were not answered: {}",
            answered.load(std::sync::atomic::Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    hub.kill_9();
    let _ = writer.await;
    let queued = acks.await.unwrap();
    assert!(
        queued.len() >= 500,
        "answered before the kill: {}",
        queued.len()
    );
    assert!(queued.len() < 20_000, "the kill came after the last send");

    // Restart on the same directory; a marker sent now comes after
    // everything stored before the kill.
    let hub = Binary::start(&dir, port, &[]).await;
    let mut alice = Client::connect_url(&hub.url, "alice", &[]).await.0;
    let marker = send(&mut alice, "bob", json!("marker")).await;
    assert_eq!(marker["status"], "queued");
    let mut bob = Client::connect_url(&hub.url, "bob", &["ack"]).await.0;
    let mut seqs = Vec::new();
    let mut payloads = std::collections::HashSet::new();
    loop {
        let m = bob.expect("hub:message").await;
        let seq = m["seq"].as_u64().unwrap();
        bob.send(json!({"type": "hub:ack", "seq": seq})).await;
        if m["payload"] == "marker" {
            // After an unclean stop numbering skips ahead: no number a
            // client took before the crash is given out again.
            assert!(seq > 1 << 20, "the numbering skipped ahead: {seq}");
            break;
        }
        assert!(
            seqs.last().is_none_or(|last| *last < seq),
            "in seq order, no repeat"
        );
        seqs.push(seq);
        assert!(
            payloads.insert(m["payload"].as_u64().unwrap()),
            "no duplicate: {m}"
        );
    }
    let lost: Vec<_> = queued.iter().filter(|i| !payloads.contains(i)).collect();
    assert!(
        lost.is_empty(),
        "{} acked messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    drop(hub);
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

/// A retry of a remembered send is not charged to the rate limit — once
/// per id and session, so replaying one id is no way around the limit.
/// One test, both engines (on Redis: a retry through the node that took it).
async fn a_retry_is_spared_the_rate_limit_once(mut config: ServerConfig) {
    config.durability = Durability::Memory;
    config.hub.rate_limit_per_sec = 1;
    config.hub.rate_limit_burst = 2;
    let server = start(config);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while http(&server, "GET", "/ready", None, None).await.status != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    known_and_away(&server, "bob").await;
    // hub:connect takes one frame of the burst, the send the other.
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let send = json!({"type": "hub:send", "id": 1, "to": "bob", "payload": 1, "msg_id": "m-1"});
    assert_eq!(alice.request(send.clone()).await["status"], "queued");
    let fresh = json!({"type": "hub:send", "id": 2, "to": "bob", "payload": 2, "msg_id": "m-2"});
    assert_eq!(
        alice.request(fresh).await["type"],
        "hub:rate_limited",
        "the burst is spent"
    );
    let retry = alice.request(send.clone()).await;
    assert_eq!(
        retry["type"], "hub:delivery_ack",
        "a retry goes through: {retry}"
    );
    assert_eq!(retry["status"], "queued");
    let again = alice.request(send).await;
    assert_eq!(
        again["type"], "hub:rate_limited",
        "the second retry is charged: {again}"
    );
}

#[tokio::test]
async fn a_retry_is_not_charged_to_the_rate_limit_once() {
    a_retry_is_spared_the_rate_limit_once(test_config()).await;
}

#[tokio::test]
async fn a_retry_is_not_charged_to_the_rate_limit_once_on_redis() {
    let redis = common::redis::Redis::start().await;
    a_retry_is_spared_the_rate_limit_once(common::redis::node_config(&redis, "rl1:")).await;
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

/// `inbox_max_bytes` caps an inbox by size, and `dedupe_max_per_sender`
/// bounds the remembered ids: past it the oldest id is forgotten, so its
/// retry is stored again.
#[tokio::test]
async fn byte_caps_and_the_dedupe_memory_are_bounded() {
    // One node's store: with Redis the ids are kept for the whole dedupe
    // window, not dedupe_max_per_sender of them (PROTOCOL, "Many nodes").
    let mut config = durable_config();
    config.hub.inbox_max_bytes = 150;
    config.hub.dedupe_max_per_sender = 1;
    let server = start(config);
    known_and_away(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let big = "x".repeat(60);
    let send = |id: &str, payload: &str| json!({"type": "hub:send", "id": id, "to": "bob", "payload": payload, "msg_id": id});
    assert_eq!(alice.request(send("m-1", &big)).await["status"], "queued");
    let full = alice.request(send("m-2", &big)).await;
    assert_eq!(
        full["reason"], "recipient_queue_full",
        "over 150 bytes: {full}"
    );

    // Taken and acknowledged, the inbox has room again.
    let mut bob = connect_acking(&server, "bob").await;
    assert_eq!(take(&mut bob, 1).await.len(), 1);
    bob.send(json!({"type": "hub:ack", "seq": 1})).await;
    bob.expect_nothing_pending().await;
    // m-3 pushes m-1 out of a memory of one id: m-1's retry is a new message.
    assert_eq!(
        alice.request(send("m-3", "a")).await["type"],
        "hub:delivery_ack"
    );
    let (seq, payload) = take(&mut bob, 1).await.remove(0);
    assert_eq!(payload, json!("a"));
    bob.send(json!({"type": "hub:ack", "seq": seq})).await;
    bob.expect_nothing_pending().await;
    let retry = alice.request(send("m-1", &big)).await;
    assert_ne!(retry["status"], "rejected", "{retry}");
    assert_eq!(take(&mut bob, 1).await[0].1, json!(big), "stored again");
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
