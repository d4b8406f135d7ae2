//! A publish or broadcast with a `msg_id` takes effect once (durability
//! on): a retry gets the first answer again and reaches nobody twice, the
//! same id for another message is `idempotency_conflict`, the memory
//! survives a restart and ends with `dedupe_window_ms`, and a retry is let
//! past the rate limit once.

mod common;

use common::engines::Engine;
use common::*;
use hub_core::protocol::{BroadcastTarget, DeliveryStatus, ErrorCode};
use hub_core::{BroadcastOptions, PublishOptions, SendOptions};
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};

fn config() -> ServerConfig {
    let mut config = test_config();
    config.durability = Durability::Memory;
    with_feed(config)
}

/// `config` with a `feed` namespace that keeps a history of 100.
fn with_feed(mut config: ServerConfig) -> ServerConfig {
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 100,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config
}

fn publish(topic: &str, payload: Value, msg_id: &str) -> Value {
    json!({"type": "hub:publish", "id": "p", "topic": topic, "payload": payload, "msg_id": msg_id})
}

async fn a_retried_publish_reaches_each_subscriber_once(engine: Engine) {
    let server = engine.start(with_feed(engine.config())).await;
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("news").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let first = alice.request(publish("news", json!("hi"), "m-1")).await;
    assert_eq!(
        (&first["type"], &first["recipients"]),
        (&json!("hub:publish_ack"), &json!(1))
    );
    assert_eq!(reader.expect("hub:message").await["payload"], "hi");

    let retry = alice.request(publish("news", json!("hi"), "m-1")).await;
    assert_eq!(retry, first, "the first answer again");
    let conflict = alice.request(publish("news", json!("other"), "m-1")).await;
    assert_eq!(conflict["code"], "idempotency_conflict", "{conflict}");
    let elsewhere = alice
        .request(publish("elsewhere", json!("hi"), "m-1"))
        .await;
    assert_eq!(
        elsewhere["code"], "idempotency_conflict",
        "another topic: {elsewhere}"
    );
    // The same id from another sender is another message.
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let bobs = bob.request(publish("news", json!("hi"), "m-1")).await;
    assert_eq!(bobs["recipients"], 1, "{bobs}");
    assert_eq!(reader.expect("hub:message").await["from"], "bob");
    reader.expect_nothing_pending().await;
}

async fn a_retried_broadcast_reaches_each_address_once(engine: Engine) {
    let server = engine.start(with_feed(engine.config())).await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let broadcast = json!({"type": "hub:broadcast", "id": "b", "to": ["bob", "nobody"],
        "payload": 1, "msg_id": "b-1"});
    let first = alice.request(broadcast.clone()).await;
    assert_eq!(first["type"], "hub:broadcast_ack", "{first}");
    assert_eq!(
        (&first["recipients"], &first["not_found"]),
        (&json!(1), &json!(["nobody"]))
    );
    assert_eq!(bob.expect("hub:message").await["payload"], 1);
    assert_eq!(alice.request(broadcast).await, first);
    let other =
        json!({"type": "hub:broadcast", "id": "b", "to": "*", "payload": 1, "msg_id": "b-1"});
    assert_eq!(alice.request(other).await["code"], "idempotency_conflict");
    bob.expect_nothing_pending().await;
}

/// In a topic with history the retry gets the first offset; the topic
/// holds the publication once.
async fn a_retried_publish_is_kept_once_in_history(engine: Engine) {
    let server = engine.start(with_feed(engine.config())).await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let first = alice.request(publish("feed:a", json!(1), "h-1")).await;
    assert_eq!(first["offset"], 1, "{first}");
    assert_eq!(
        alice.request(publish("feed:a", json!(1), "h-1")).await,
        first
    );
    let next = alice.request(publish("feed:a", json!(2), "h-2")).await;
    assert_eq!(next["offset"], 2, "the retry took no offset: {next}");
}

/// Pipelined retries of one id while the first is still on its way (its
/// history commit): each is answered with the first attempt's answer.
async fn retries_in_flight_wait_for_the_first_answer(engine: Engine) {
    let server = engine.start(with_feed(engine.config())).await;
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("feed:b").await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    for _ in 0..5 {
        alice.send(publish("feed:b", json!("x"), "f-1")).await;
    }
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(alice.expect("hub:publish_ack").await);
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0]["offset"], 1);
    assert_eq!(reader.expect("hub:message").await["offset"], 1);
    reader.expect_nothing_pending().await;
}

async fn a_remembered_id_is_forgotten_after_the_dedupe_window(engine: Engine) {
    let mut config = with_feed(engine.config());
    config.hub.dedupe_window_ms = 50;
    let server = engine.start(config).await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let first = alice.request(publish("feed:w", json!(1), "w-1")).await;
    assert_eq!(first["offset"], 1);
    // Retried until the hub has forgotten the id (its sweep runs at least
    // every second): then the same frame is a new publication.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let answer = alice.request(publish("feed:w", json!(1), "w-1")).await;
        if answer["offset"] == 2 {
            break;
        }
        assert_eq!(answer, first, "remembered until then");
        assert!(tokio::time::Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_retried_publish_is_not_charged_to_the_rate_limit_once() {
    let mut config = config();
    config.hub.rate_limit_per_sec = 1;
    config.hub.rate_limit_burst = 2;
    let server = start(config);
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let first = publish("news", json!(1), "r-1");
    assert_eq!(
        alice.request(first.clone()).await["type"],
        "hub:publish_ack"
    );
    let fresh = alice.request(publish("news", json!(2), "r-2")).await;
    assert_eq!(fresh["type"], "hub:rate_limited", "the burst is spent");
    let retry = alice.request(first.clone()).await;
    assert_eq!(
        retry["type"], "hub:publish_ack",
        "a retry goes through: {retry}"
    );
    assert_eq!(
        alice.request(first).await["type"],
        "hub:rate_limited",
        "once"
    );
}

#[tokio::test]
async fn the_memory_of_publishes_and_broadcasts_survives_a_restart() {
    let dir = TempDir::new("restart");
    let disk = || {
        let mut c = config();
        c.durability = Durability::Disk;
        c.data_dir = dir.0.display().to_string();
        c
    };
    let server = start(disk());
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let published = alice.request(publish("feed:r", json!(1), "p-1")).await;
    let (_bob, _) = Client::connect(&server, "bob").await;
    let broadcast =
        json!({"type": "hub:broadcast", "id": "b", "to": ["bob"], "payload": 1, "msg_id": "b-1"});
    let broadcasted = alice.request(broadcast.clone()).await;
    assert_eq!(broadcasted["recipients"], 1);
    drop(alice);
    server.shutdown();

    let server = start(disk());
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(
        alice.request(publish("feed:r", json!(1), "p-1")).await,
        published
    );
    assert_eq!(
        alice.request(broadcast).await,
        broadcasted,
        "bob is not connected now"
    );
    let conflict = alice.request(publish("feed:r", json!(2), "p-1")).await;
    assert_eq!(conflict["code"], "idempotency_conflict");
}

/// The real binary, SIGKILLed right after answering a burst of publishes
/// to a topic with history: after the restart every retry gets its first
/// offset back and the topic holds each publication once (the `msg_id` is
/// stored in the publication's own commit, not a later one).
#[tokio::test(flavor = "multi_thread")]
async fn retried_publishes_are_kept_once_across_kill_9() {
    const N: usize = 300;
    let dir = TempDir::new("dedupe-kill9");
    let port = free_port();
    let history = ["namespaces.feed.history_size=500"];
    let hub = Binary::start(&dir, port, &history).await;
    let (mut publisher, _) = Client::connect_url(&hub.url, "pub", &[]).await;
    let first = burst(&mut publisher, N).await;
    hub.kill_9();

    let hub = Binary::start(&dir, port, &history).await;
    let (mut publisher, _) = Client::connect_url(&hub.url, "pub", &[]).await;
    let again = burst(&mut publisher, N).await;
    assert_eq!(again, first, "every retry gets its first offset");
    let (mut reader, _) = Client::connect_url(&hub.url, "reader", &[]).await;
    let ack = reader
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "feed:k"}))
        .await;
    let since = json!({"epoch": ack["epoch"], "offset": 0});
    let (mut late, _) = Client::connect_url(&hub.url, "late", &[]).await;
    late.send(json!({"type": "hub:subscribe", "id": "s", "topic": "feed:k", "since": since}))
        .await;
    let mut kept = Vec::new();
    loop {
        let f = late.next_frame().await;
        if f["type"] == "hub:subscribe_ack" {
            assert_eq!(f["recovered"], true, "{f}");
            break;
        }
        kept.push(f["payload"].as_u64().unwrap());
    }
    assert_eq!(
        kept,
        (0..N as u64).collect::<Vec<_>>(),
        "each publication once, in order"
    );
}

/// Publishes `n` messages with ids `k-0`.. to `feed:k`, all written before
/// any answer is read; returns each id's offset.
async fn burst(c: &mut Client, n: usize) -> std::collections::BTreeMap<u64, u64> {
    for i in 0..n {
        let frame = json!({"type": "hub:publish", "id": i, "topic": "feed:k", "payload": i,
            "msg_id": format!("k-{i}")});
        c.send(frame).await;
    }
    let mut offsets = std::collections::BTreeMap::new();
    while offsets.len() < n {
        let ack = c.expect("hub:publish_ack").await;
        offsets.insert(ack["id"].as_u64().unwrap(), ack["offset"].as_u64().unwrap());
    }
    offsets
}

/// The application's own `Hub::send`, `Hub::publish` and `Hub::broadcast`
/// with a `msg_id` take effect once, like a client's frames, on every
/// engine; `live_only` never stores.
async fn the_applications_retries_take_effect_once(engine: Engine) {
    let server = engine.start(with_feed(engine.config())).await;
    let hub = server.hub.clone();
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("news").await;

    let once = PublishOptions::default().msg_id("p-1");
    let first = hub.publish("news", "app", &"hi", once.clone()).await;
    assert_eq!(first.as_ref().map(|p| p.recipients), Ok(1));
    assert_eq!(hub.publish("news", "app", &"hi", once.clone()).await, first);
    let other = hub.publish("news", "app", &"other", once).await;
    assert_eq!(other.unwrap_err().code(), ErrorCode::IdempotencyConflict);
    assert_eq!(reader.expect("hub:message").await["payload"], "hi");

    let to = BroadcastTarget::List(vec!["reader".into(), "ghost".into()]);
    let once = BroadcastOptions::default().msg_id("b-1");
    let first = hub.broadcast("app", &to, &1, once.clone()).await.unwrap();
    assert_eq!(
        (first.recipients, first.not_found.clone()),
        (1, vec!["ghost".to_owned()])
    );
    assert_eq!(hub.broadcast("app", &to, &1, once).await, Ok(first));
    assert_eq!(reader.expect("hub:message").await["payload"], 1);
    reader.expect_nothing_pending().await;

    // bob is known (connected once) and away: a send is stored for him,
    // once per msg_id; a live-only send is refused.
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;
    let once = SendOptions::default().msg_id("s-1");
    for _ in 0..2 {
        let sent = hub.send("app", "bob", &"stored", once.clone()).await;
        assert_eq!(sent, Ok(DeliveryStatus::Queued));
    }
    let live = hub.send(
        "app",
        "bob",
        &"now or never",
        SendOptions::default().live_only(),
    );
    assert_eq!(live.await.unwrap_err().code(), ErrorCode::RecipientNotFound);
    let (mut bob, _) = Client::connect_url(&server.ws_url(), "bob", &["ack"]).await;
    let m = bob.expect("hub:message").await;
    assert_eq!(
        (&m["from"], &m["payload"]),
        (&json!("app"), &json!("stored"))
    );
    bob.expect_nothing_pending().await;
}

// One test per engine of each: memory, redb and Redis.
on_every_engine!(
    the_applications_retries_take_effect_once,
    a_retried_publish_reaches_each_subscriber_once,
    a_retried_broadcast_reaches_each_address_once,
    a_retried_publish_is_kept_once_in_history,
    retries_in_flight_wait_for_the_first_answer,
    a_remembered_id_is_forgotten_after_the_dedupe_window,
);
