//! Stored direct messages on the Redis engine, over real sockets with a
//! real redis-server: an inbox belongs to the whole hub, so a message
//! stored through one node is handed out by whichever node its recipient
//! connects to, in `seq` order, until acknowledged; a `msg_id` is deduped
//! across nodes; and when a node is SIGKILLed no message acked `accepted`
//! or `queued` is lost — neither one held for a recipient there, nor one a
//! sender there retries through another node.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::redis::{node_config, Redis};
use common::*;
use hub_core::SendOptions;
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};

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

#[actix_rt::test]
async fn an_inbox_belongs_to_the_hub_not_to_a_node() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d1:"), stored_config(&redis, "d1:")]).await;
    known_and_away(&redis, "d1:", &two.ws_url(), "bob").await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    for i in 1..=3 {
        let ack = send(&mut alice, "bob", json!(i)).await;
        assert_eq!(
            ack["status"], "queued",
            "stored in Redis from node one: {ack}"
        );
    }
    // Never connected anywhere: still refused, nothing stored.
    let ack = send(&mut alice, "nobody", json!(0)).await;
    assert_eq!(ack["reason"], "recipient_not_found", "{ack}");

    // Bob comes back on node one: the messages stored while he was away
    // come first, in order, then live ones.
    let mut bob = acking(&one.ws_url(), "bob").await;
    assert_eq!(
        take(&mut bob, 3).await,
        vec![(1, json!(1)), (2, json!(2)), (3, json!(3))]
    );
    let ack = send(&mut alice, "bob", json!(4)).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(take(&mut bob, 1).await, vec![(4, json!(4))]);
    bob.send(json!({"type": "hub:ack", "seq": 2})).await;
    bob.expect_nothing_pending().await;
    drop(bob); // 3 and 4 were never acknowledged

    // On node two now, with the sender still on node one: what was not
    // acknowledged comes again, and a live send crosses nodes `accepted`.
    let mut bob = acking(&two.ws_url(), "bob").await;
    assert_eq!(take(&mut bob, 2).await, vec![(3, json!(3)), (4, json!(4))]);
    let ack = send(&mut alice, "bob", json!(5)).await;
    assert_eq!(ack["status"], "accepted", "handed over on node two: {ack}");
    assert_eq!(take(&mut bob, 1).await, vec![(5, json!(5))]);
    bob.send(json!({"type": "hub:ack", "seq": 5})).await;
    bob.expect_nothing_pending().await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;

    // Everything acknowledged: nothing comes back, on either node.
    for node in [&one, &two] {
        let mut bob = acking(&node.ws_url(), "bob").await;
        bob.expect_nothing_pending().await;
        bob.request(json!({"type": "hub:disconnect"})).await;
        let _ = bob.until_close().await;
    }
    // An application embedding node two stores for bob too.
    let sent = two
        .hub
        .send("app", "bob", &"from the app", SendOptions::default())
        .await;
    assert_eq!(sent, Ok(hub_core::protocol::DeliveryStatus::Queued));
    let mut bob = acking(&one.ws_url(), "bob").await;
    assert_eq!(take(&mut bob, 1).await, vec![(6, json!("from the app"))]);
}

#[actix_rt::test]
async fn the_window_and_the_caps_hold_for_the_whole_hub() {
    let redis = Redis::start().await;
    let mut config = stored_config(&redis, "d2:");
    config.hub.inbox_window = 2;
    config.hub.inbox_max_messages = 5;
    let [one, two] = started([config.clone(), config]).await;
    known_and_away(&redis, "d2:", &two.ws_url(), "bob").await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut carol, _) = Client::connect(&two, "carol").await;
    for i in 1..=3 {
        assert_eq!(send(&mut alice, "bob", json!(i)).await["status"], "queued");
    }
    for i in 4..=5 {
        assert_eq!(send(&mut carol, "bob", json!(i)).await["status"], "queued");
    }
    // Five kept, whichever node stored them: the sixth is refused on both.
    for sender in [&mut alice, &mut carol] {
        let ack = send(sender, "bob", json!(6)).await;
        assert_eq!(
            (ack["status"].as_str(), ack["reason"].as_str()),
            (Some("rejected"), Some("recipient_queue_full")),
            "{ack}"
        );
    }
    // Two at a time until acknowledged.
    let mut bob = acking(&one.ws_url(), "bob").await;
    assert_eq!(take(&mut bob, 2).await, vec![(1, json!(1)), (2, json!(2))]);
    bob.expect_nothing_pending().await;
    bob.send(json!({"type": "hub:ack", "seq": 2})).await;
    assert_eq!(take(&mut bob, 2).await, vec![(3, json!(3)), (4, json!(4))]);
    // Acknowledged messages no longer count against the cap.
    assert_eq!(send(&mut carol, "bob", json!(6)).await["status"], "queued");
    bob.send(json!({"type": "hub:ack", "seq": 4})).await;
    assert_eq!(take(&mut bob, 2).await, vec![(5, json!(5)), (6, json!(6))]);
    bob.send(json!({"type": "hub:ack", "seq": 6})).await;
    bob.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn a_retried_send_is_stored_once_in_the_whole_hub() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d3:"), stored_config(&redis, "d3:")]).await;
    known_and_away(&redis, "d3:", &one.ws_url(), "bob").await;
    let frame =
        json!({"type": "hub:send", "id": 1, "to": "bob", "payload": "pay", "msg_id": "m-1"});
    let (mut alice, _) = Client::connect(&one, "alice").await;
    assert_eq!(alice.request(frame.clone()).await["status"], "queued");
    drop(alice);
    // The retry comes through node two: answered the same, not stored again.
    let (mut alice, _) = Client::connect(&two, "alice").await;
    let ack = alice.request(frame.clone()).await;
    assert_eq!(ack["status"], "queued", "{ack}");
    let conflict = alice
        .request(
            json!({"type": "hub:send", "id": 2, "to": "bob", "payload": "other", "msg_id": "m-1"}),
        )
        .await;
    assert_eq!(conflict["reason"], "idempotency_conflict", "{conflict}");
    // Another sender may use the same id.
    let (mut carol, _) = Client::connect(&one, "carol").await;
    let ack = carol
        .request(json!({"type": "hub:send", "id": 1, "to": "bob", "payload": "c", "msg_id": "m-1"}))
        .await;
    assert_eq!(ack["status"], "queued", "{ack}");

    let mut bob = acking(&two.ws_url(), "bob").await;
    assert_eq!(
        take(&mut bob, 2).await,
        vec![(1, json!("pay")), (2, json!("c"))]
    );
    bob.expect_nothing_pending().await;
    // Handed over at once: a retry through the other node is told so.
    let live =
        json!({"type": "hub:send", "id": 3, "to": "bob", "payload": "live", "msg_id": "m-2"});
    assert_eq!(alice.request(live.clone()).await["status"], "accepted");
    assert_eq!(take(&mut bob, 1).await, vec![(3, json!("live"))]);
    let (mut again, _) = Client::connect(&one, "alice").await;
    let ack = again.request(live).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    bob.expect_nothing_pending().await;
}

/// Writes sends `ids` from `address` to `to` through `url` as fast as the
/// socket takes them, each with `msg_id` `m<i>`, while a task reads the
/// acks until every send is answered or the connection ends. Returns the
/// writer, the reader (the ids acked as stored) and the count of acks.
async fn stream_of_sends(
    url: &str,
    address: &str,
    to: &str,
    ids: std::ops::Range<u64>,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::task::JoinHandle<Vec<u64>>,
    Arc<AtomicUsize>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    let (mut tx, mut rx) = ws.split();
    let connect = json!({"type": "hub:connect", "id": "c", "address": address});
    tx.send(Message::Text(connect.to_string().into()))
        .await
        .expect("sends");
    let answered = Arc::new(AtomicUsize::new(0));
    let counted = answered.clone();
    let total = ids.end - ids.start;
    let acks = tokio::spawn(async move {
        let mut stored = Vec::new();
        loop {
            let next = rx.next().await;
            let Some(Ok(message)) = next else {
                break;
            };
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            if frame["type"] == "hub:delivery_ack" {
                let status = frame["status"].as_str().unwrap_or_default();
                assert!(status == "queued" || status == "accepted", "{frame}");
                stored.push(frame["id"].as_u64().expect("an id"));
                counted.fetch_add(1, Ordering::Relaxed);
                if stored.len() as u64 == total {
                    break;
                }
            }
        }
        stored
    });
    let to = to.to_owned();
    let writer = tokio::spawn(async move {
        for i in ids {
            let send = json!({"type": "hub:send", "id": i, "to": to, "payload": i, "msg_id": format!("m{i}")});
            if tx
                .send(Message::Text(send.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            tokio::task::yield_now().await;
        }
        // Kept open until the reader has every answer.
        std::future::pending::<()>().await;
    });
    (writer, acks, answered)
}

async fn until_answered(answered: &AtomicUsize, n: usize) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while answered.load(Ordering::Relaxed) < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sends were not answered: {}",
            answered.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Bob's side of a stream: every stored message he is handed, acked as it
/// comes; a message handed again after a move (never acknowledged) must
/// carry the same `seq` and payload. Stops at `last`.
async fn receive_until(bob: &mut Client, got: &mut BTreeMap<u64, u64>, last: u64) {
    loop {
        let m = bob.expect("hub:message").await;
        let seq = m["seq"].as_u64().expect("seq");
        let payload = m["payload"].as_u64().expect("payload");
        if let Some(before) = got.insert(seq, payload) {
            assert_eq!(
                before, payload,
                "seq {seq} handed again with another message"
            );
        }
        bob.send(json!({"type": "hub:ack", "seq": seq})).await;
        if payload == last {
            return;
        }
    }
}

/// No repeats among payloads (each seq once), and every id in `acked` among them.
fn nothing_lost_nothing_twice(got: &BTreeMap<u64, u64>, acked: &[u64]) {
    let payloads: HashSet<u64> = got.values().copied().collect();
    assert_eq!(payloads.len(), got.len(), "a message stored twice");
    let lost: Vec<_> = acked.iter().filter(|i| !payloads.contains(i)).collect();
    assert!(
        lost.is_empty(),
        "{} acked messages lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
}

async fn doomed_node(redis: &Redis, prefix: &str) -> (TempDir, Binary) {
    let dir = TempDir::new("redis-durable-node");
    let url = format!("redis_url={}", redis.url());
    let prefix = format!("redis_prefix={prefix}");
    let settings = ["engine=redis", &url, &prefix, "durability=memory"];
    let node = Binary::start(&dir, free_port(), &settings).await;
    (dir, node)
}

/// Takes `bob`'s stored messages into a map (seq → payload), acking each,
/// until the connection ends.
fn taking(mut bob: Client) -> tokio::task::JoinHandle<BTreeMap<u64, u64>> {
    tokio::spawn(async move {
        let mut got = BTreeMap::new();
        loop {
            match bob.next_event().await {
                Event::Frame(m) if m["type"] == "hub:message" => {
                    let seq = m["seq"].as_u64().expect("seq");
                    got.insert(seq, m["payload"].as_u64().expect("payload"));
                    if !bob.try_send(json!({"type": "hub:ack", "seq": seq})).await {
                        return got;
                    }
                }
                Event::Frame(_) => {}
                Event::Eof | Event::Closed { .. } => return got,
            }
        }
    })
}

#[actix_rt::test]
async fn nothing_acked_is_lost_when_the_recipient_s_node_is_killed() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d4:"), stored_config(&redis, "d4:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "d4:").await;
    // Bob takes and acks messages on the doomed node while alice sends
    // from node one.
    let bob = acking(&doomed.url, "bob").await;
    inbox_made(&redis, "d4:", "bob").await;
    let before = taking(bob);
    let total = 5_000;
    let (writer, acks, answered) = stream_of_sends(&one.ws_url(), "alice", "bob", 0..total).await;
    until_answered(&answered, 300).await;
    doomed.kill_9();
    let mut got = before.await.expect("bob's reader");
    assert!(!got.is_empty(), "bob took messages before the kill");
    // Every send is answered (a wake to the dead node ends `queued`).
    let acked = acks.await.expect("the ack reader");
    writer.abort();
    assert_eq!(acked.len() as u64, total, "every send answered as stored");
    // A marker behind the stream; bob comes back on node two.
    let (mut marker, _) = Client::connect(&two, "marker").await;
    let ack = send(&mut marker, "bob", json!(1_000_000)).await;
    assert_eq!(ack["status"], "queued", "bob is away: {ack}");
    let mut bob = acking(&two.ws_url(), "bob").await;
    receive_until(&mut bob, &mut got, 1_000_000).await;
    got.retain(|_, payload| *payload != 1_000_000);
    nothing_lost_nothing_twice(&got, &acked);
    let seqs: Vec<u64> = got.keys().copied().collect();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "numbered without gaps"
    );
    let payloads: Vec<u64> = got.values().copied().collect();
    assert_eq!(
        payloads,
        (0..total).collect::<Vec<_>>(),
        "numbered in send order"
    );
    bob.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn a_sender_whose_node_is_killed_retries_elsewhere_without_duplicates() {
    let redis = Redis::start().await;
    let [one] = started([stored_config(&redis, "d5:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "d5:").await;
    known_and_away(&redis, "d5:", &one.ws_url(), "bob").await;
    let total = 3_000u64;
    let (writer, acks, answered) = stream_of_sends(&doomed.url, "alice", "bob", 0..total).await;
    until_answered(&answered, 300).await;
    doomed.kill_9();
    let acked = acks.await.expect("the ack reader");
    writer.abort();
    assert!(
        acked.len() < total as usize,
        "the kill came after the last send"
    );
    // Alice comes back on node one and sends everything again, with the
    // same msg_ids: what the dead node stored is not stored twice.
    let (mut alice, _) = Client::connect(&one, "alice").await;
    for i in 0..total {
        alice
            .send(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i, "msg_id": format!("m{i}")}))
            .await;
    }
    for _ in 0..total {
        let ack = alice.expect("hub:delivery_ack").await;
        assert_eq!(ack["status"], "queued", "{ack}");
    }
    let mut bob = acking(&one.ws_url(), "bob").await;
    let mut got = BTreeMap::new();
    receive_until(&mut bob, &mut got, total - 1).await;
    let payloads: HashSet<u64> = got.values().copied().collect();
    assert_eq!(payloads.len(), total as usize, "each once: {}", got.len());
    nothing_lost_nothing_twice(&got, &acked);
    bob.expect_nothing_pending().await;
}

/// `receipt: true` across nodes: the receipt is stored in the sender's
/// inbox (in Redis) when the recipient acknowledges on another node, or
/// when the message's TTL has passed by the time anyone looks.
#[actix_rt::test]
async fn receipts_come_back_across_nodes() {
    let redis = Redis::start().await;
    let mut config = stored_config(&redis, "d6:");
    config.hub.message_ttl_ms = 1_000;
    let [one, two] = started([config.clone(), config]).await;
    known_and_away(&redis, "d6:", &two.ws_url(), "bob").await;
    let mut alice = acking(&one.ws_url(), "alice").await;
    inbox_made(&redis, "d6:", "alice").await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": "r1", "to": "bob", "payload": 1, "msg_id": "m-1", "receipt": true}))
        .await;
    assert_eq!(ack["status"], "queued", "{ack}");
    let mut bob = acking(&two.ws_url(), "bob").await;
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!(1))]);
    bob.send(json!({"type": "hub:ack", "seq": 1})).await;
    let receipt = alice.expect("hub:receipt").await;
    assert_eq!(
        (
            receipt["id"].as_str(),
            receipt["msg_id"].as_str(),
            receipt["to"].as_str(),
            receipt["status"].as_str()
        ),
        (Some("r1"), Some("m-1"), Some("bob"), Some("delivered")),
        "{receipt}"
    );
    let seq = receipt["seq"].as_u64().expect("stored for alice: a seq");
    alice.send(json!({"type": "hub:ack", "seq": seq})).await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;

    // Bob away: a message with a receipt outlives its TTL (a lower bound);
    // when bob comes back it is not handed out, and alice hears `expired`.
    let ack = alice
        .request(json!({"type": "hub:send", "id": 2, "to": "bob", "payload": 2, "receipt": true}))
        .await;
    assert_eq!(ack["status"], "queued", "{ack}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut bob = acking(&one.ws_url(), "bob").await;
    let receipt = alice.expect("hub:receipt").await;
    assert_eq!(
        (receipt["id"].as_u64(), receipt["status"].as_str()),
        (Some(2), Some("expired")),
        "{receipt}"
    );
    bob.expect_nothing_pending().await;
}

/// What a user of hub-client sees: an SDK client whose node is SIGKILLed
/// while messages stream to it moves to the next node and gets every
/// stored message exactly once, in order (it acks as it takes them, and
/// drops a `seq` handed to it again).
#[actix_rt::test]
async fn an_sdk_client_gets_every_stored_message_once_across_a_node_kill() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d7:"), stored_config(&redis, "d7:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "d7:").await;
    let bob = hub_client::Client::builder(doomed.url.clone())
        .fallback_url(one.ws_url())
        .address("bob")
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .expect("connects to the doomed node");
    inbox_made(&redis, "d7:", "bob").await;
    let mut events = bob.events().await;
    let total = 400u64;
    let (_writer, acks, _) = stream_of_sends(&two.ws_url(), "alice", "bob", 0..total).await;
    let mut doomed = Some(doomed);
    let mut seen = Vec::new();
    while (seen.len() as u64) < total {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("an event within PATIENCE")
            .expect("the client goes on");
        if let hub_client::Event::Message(m) = event {
            seen.push(m.payload_as::<u64>().expect("a number"));
            if seen.len() == 100 {
                if let Some(node) = doomed.take() {
                    node.kill_9();
                }
            }
        }
    }
    assert!(doomed.is_none(), "the node was killed mid-stream");
    assert_eq!(seen, (0..total).collect::<Vec<_>>(), "each once, in order");
    assert_eq!(acks.await.expect("the ack reader").len() as u64, total);
    bob.close().await.expect("closes");
}

/// A publish's or broadcast's `msg_id` is remembered for the whole hub: a
/// retry through another node gets the first answer and takes no effect
/// again; the same id for another message is `idempotency_conflict`.
#[actix_rt::test]
async fn a_retried_publish_or_broadcast_takes_effect_once_in_the_whole_hub() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d8:"), stored_config(&redis, "d8:")]).await;
    let (mut reader, _) = Client::connect(&two, "reader").await;
    reader.subscribe("news").await;
    let publish = json!({"type": "hub:publish", "id": 1, "topic": "news", "payload": "once", "msg_id": "p-1"});
    let broadcast = json!({"type": "hub:broadcast", "id": 2, "to": ["reader"], "payload": "all", "msg_id": "b-1"});
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let first_publish = alice.request(publish.clone()).await;
    assert_eq!(first_publish["type"], "hub:publish_ack", "{first_publish}");
    let first_broadcast = alice.request(broadcast.clone()).await;
    assert_eq!(first_broadcast["recipients"], 1, "{first_broadcast}");
    assert_eq!(reader.expect("hub:message").await["payload"], "once");
    assert_eq!(reader.expect("hub:message").await["payload"], "all");
    drop(alice);

    // The retries come through node two: the first answers, no second effect.
    let (mut alice, _) = Client::connect(&two, "alice").await;
    assert_eq!(alice.request(publish).await, first_publish);
    assert_eq!(alice.request(broadcast).await, first_broadcast);
    let conflict = alice
        .request(json!({"type": "hub:publish", "id": 3, "topic": "news", "payload": "other", "msg_id": "p-1"}))
        .await;
    assert_eq!(conflict["code"], "idempotency_conflict", "{conflict}");
    reader.expect_nothing_pending().await;
}

/// While Redis is away nothing can be stored or numbered: a stored send
/// and a publish to a topic with history are refused `unavailable`
/// (temporary), not answered as if done. When Redis comes back — empty, as
/// it persisted nothing — the inboxes of connected addresses are made
/// again, numbered on past what their sessions were handed, and sends are
/// stored again.
#[actix_rt::test]
async fn while_redis_is_away_what_must_be_stored_is_refused_and_works_again_after() {
    let mut redis = Redis::start().await;
    let mut config = stored_config(&redis, "d9:");
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 10,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    let [one] = started([config]).await;
    let mut bob = acking(&one.ws_url(), "bob").await;
    inbox_made(&redis, "d9:", "bob").await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    assert_eq!(
        send(&mut alice, "bob", json!(1)).await["status"],
        "accepted"
    );
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!(1))]);

    redis.kill();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while http(&one, "GET", "/ready", None, None).await.status != 503 {
        assert!(tokio::time::Instant::now() < deadline, "still ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ack = send(&mut alice, "bob", json!(2)).await;
    assert_eq!(
        (ack["status"].as_str(), ack["reason"].as_str()),
        (Some("rejected"), Some("unavailable")),
        "{ack}"
    );
    let refused = alice
        .request(json!({"type": "hub:publish", "id": "p", "topic": "feed:x", "payload": 1}))
        .await;
    assert_eq!(
        (refused["code"].as_str(), refused["temporary"].as_bool()),
        (Some("unavailable"), Some(true)),
        "{refused}"
    );

    redis.restart().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while http(&one, "GET", "/ready", None, None).await.status != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    inbox_made(&redis, "d9:", "bob").await;
    let ack = send(&mut alice, "bob", json!(3)).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(
        take(&mut bob, 1).await,
        vec![(2, json!(3))],
        "numbered on past seq 1"
    );
    let ack = alice
        .request(json!({"type": "hub:publish", "id": "p", "topic": "feed:x", "payload": 2}))
        .await;
    assert_eq!(ack["offset"], 1, "a new epoch's first: {ack}");
}

/// A client without the `ack` feature takes each stored message once: what
/// it was handed is deleted (a whole replay at once), on whichever node.
#[actix_rt::test]
async fn a_client_without_acks_takes_each_stored_message_once_across_nodes() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d10:"), stored_config(&redis, "d10:")]).await;
    known_and_away(&redis, "d10:", &one.ws_url(), "bob").await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    for i in 1..=20 {
        assert_eq!(send(&mut alice, "bob", json!(i)).await["status"], "queued");
    }
    let (mut bob, _) = Client::connect(&two, "bob").await;
    let expected: Vec<(u64, Value)> = (1..=20).map(|i| (i, json!(i))).collect();
    assert_eq!(take(&mut bob, 20).await, expected);
    // Gone from Redis once handed over, the replay and a live one alike.
    let emptied = || async {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while redis.cli(&["XLEN", "d10:{i:bob}:m"]) != "0" {
            assert!(tokio::time::Instant::now() < deadline, "never deleted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    emptied().await;
    assert_eq!(
        send(&mut alice, "bob", json!(21)).await["status"],
        "accepted"
    );
    assert_eq!(take(&mut bob, 1).await, vec![(21, json!(21))]);
    emptied().await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;
    let (mut bob, _) = Client::connect(&one, "bob").await;
    bob.expect_nothing_pending().await;
}

/// The server API of one node reaches the whole hub: a send is stored for a
/// recipient on another node, and a broadcast (listed or `"*"`) reaches
/// every node's holders, with the same counts a client's would get.
#[actix_rt::test]
async fn the_server_api_of_one_node_reaches_the_whole_hub() {
    use hub_server::api::keys::{ApiKeyConfig, Scope};
    const KEY: &str = "backend-key-0123456789abcdef";
    let redis = Redis::start().await;
    let mut config = stored_config(&redis, "d11:");
    config.api_keys = vec![ApiKeyConfig {
        name: "backend".into(),
        key: KEY.into(),
        scopes: vec![Scope::Send, Scope::Broadcast],
    }];
    let [one, two] = started([config.clone(), config]).await;
    let (mut here, _) = Client::connect(&one, "here").await;
    let mut there = acking(&two.ws_url(), "there").await;
    inbox_made(&redis, "d11:", "there").await;
    let post = |path: &'static str, body: Value| {
        let one = &one;
        async move {
            http(one, "POST", path, Some(KEY), Some(&body.to_string()))
                .await
                .json()
        }
    };
    let sent = post("/api/send", json!({"to": "there", "payload": 1})).await;
    assert_eq!(sent["status"], "accepted", "{sent}");
    assert_eq!(take(&mut there, 1).await, vec![(1, json!(1))]);
    let listed = post(
        "/api/broadcast",
        json!({"to": ["here", "there", "nobody"], "payload": 2}),
    )
    .await;
    assert_eq!(listed, json!({"recipients": 2, "not_found": ["nobody"]}));
    let everyone = post("/api/broadcast", json!({"to": "*", "payload": 3})).await;
    assert_eq!(everyone["recipients"], 2, "{everyone}");
    for c in [&mut here, &mut there] {
        assert_eq!(c.expect("hub:message").await["payload"], 2);
        assert_eq!(c.expect("hub:message").await["payload"], 3);
    }
}
