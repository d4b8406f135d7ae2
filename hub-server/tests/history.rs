//! Topic history and recovery over real sockets: publications numbered by
//! `offset` within an `epoch`, replayed after `since` in order and before
//! anything live, `recovered: false` (and nothing replayed) when part of the
//! gap is gone, no gap and no duplicate at the seam while publishing goes
//! on, the `history` right, and history that survives a restart and
//! `kill -9`.

mod common;

use std::time::Duration;

use common::engines::Engine;
use common::*;
use hub_server::{Durability, ServerConfig};
use serde_json::{json, Value};

/// A hub whose `feed` namespace keeps `size` publications per topic.
fn history_config(size: usize) -> ServerConfig {
    with_history(test_config(), size)
}

/// `config` with a `feed` namespace that keeps `size` publications per topic.
fn with_history(mut config: ServerConfig, size: usize) -> ServerConfig {
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: size,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config
}

/// Subscribes, optionally `since` a position; returns the frames that came
/// before the ack (the replay) and the ack.
async fn subscribe_since(c: &mut Client, topic: &str, since: Option<Value>) -> (Vec<Value>, Value) {
    let mut frame = json!({"type": "hub:subscribe", "id": "sub", "topic": topic});
    if let Some(since) = since {
        frame["since"] = since;
    }
    c.send(frame).await;
    let mut before = Vec::new();
    loop {
        let f = c.next_frame().await;
        if f["id"] == "sub" {
            return (before, f);
        }
        before.push(f);
    }
}

/// Publishes and returns the ack's offset.
async fn publish_offset(c: &mut Client, topic: &str, payload: Value) -> u64 {
    let ack = c
        .request(json!({"type": "hub:publish", "id": "p", "topic": topic, "payload": payload}))
        .await;
    assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
    ack["offset"]
        .as_u64()
        .expect("a publication in history has an offset")
}

fn offsets_and_payloads(frames: &[Value]) -> Vec<(u64, Value)> {
    frames
        .iter()
        .map(|m| {
            assert_eq!(m["type"], "hub:message", "{m}");
            (m["offset"].as_u64().expect("offset"), m["payload"].clone())
        })
        .collect()
}

async fn a_subscriber_recovers_what_it_missed_before_anything_live(engine: Engine) {
    let server = engine.start(with_history(engine.config(), 100)).await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    let (mut reader, _) = Client::connect(&server, "reader").await;
    let (_, ack) = subscribe_since(&mut reader, "feed:news", None).await;
    let epoch = ack["epoch"].as_str().expect("an epoch").to_owned();
    assert_eq!(ack["offset"], 0, "nothing published yet: {ack}");
    for i in 1..=3 {
        assert_eq!(
            publish_offset(&mut publisher, "feed:news", json!(i)).await,
            i
        );
    }
    let seen: Vec<Value> = vec![
        reader.expect("hub:message").await,
        reader.expect("hub:message").await,
        reader.expect("hub:message").await,
    ];
    assert_eq!(
        offsets_and_payloads(&seen),
        vec![(1, json!(1)), (2, json!(2)), (3, json!(3))]
    );
    drop(reader);

    for i in 4..=6 {
        assert_eq!(
            publish_offset(&mut publisher, "feed:news", json!(i)).await,
            i
        );
    }
    let (mut back, _) = Client::connect(&server, "reader").await;
    let since = json!({"epoch": epoch, "offset": 3});
    let (replayed, ack) = subscribe_since(&mut back, "feed:news", Some(since)).await;
    assert_eq!(
        offsets_and_payloads(&replayed),
        vec![(4, json!(4)), (5, json!(5)), (6, json!(6))]
    );
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    assert_eq!(ack["recovered"], true, "{ack}");
    assert_eq!(
        (ack["epoch"].as_str(), ack["offset"].as_u64()),
        (Some(&*epoch), Some(6))
    );

    assert_eq!(
        publish_offset(&mut publisher, "feed:news", json!(7)).await,
        7
    );
    let live = back.expect("hub:message").await;
    assert_eq!(
        (live["offset"].as_u64(), &live["payload"]),
        (Some(7), &json!(7))
    );
    back.expect_nothing_pending().await;
}

async fn a_gap_beyond_history_is_reported_and_nothing_is_replayed(engine: Engine) {
    let server = engine.start(with_history(engine.config(), 2)).await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    let (mut first, _) = Client::connect(&server, "a").await;
    let (_, ack) = subscribe_since(&mut first, "feed:t", None).await;
    let epoch = ack["epoch"].as_str().unwrap().to_owned();
    drop(first);
    for i in 1..=5 {
        publish_offset(&mut publisher, "feed:t", json!(i)).await;
    }
    let (mut c, _) = Client::connect(&server, "b").await;
    // Offsets 4 and 5 are kept; 2 and 3 are gone.
    let (replayed, ack) =
        subscribe_since(&mut c, "feed:t", Some(json!({"epoch": epoch, "offset": 1}))).await;
    assert!(replayed.is_empty(), "never a partial replay: {replayed:?}");
    assert_eq!(ack["recovered"], false, "{ack}");
    assert_eq!(ack["offset"], 5, "where the stream stands: {ack}");
    c.expect_nothing_pending().await;

    // Another epoch, or a position ahead of the topic, cannot be recovered either.
    for since in [
        json!({"epoch": "not-this-one", "offset": 4}),
        json!({"epoch": epoch, "offset": 9}),
    ] {
        let (mut c, _) = Client::connect(&server, "c").await;
        let (replayed, ack) = subscribe_since(&mut c, "feed:t", Some(since)).await;
        assert!(replayed.is_empty() && ack["recovered"] == false, "{ack}");
    }
    // Within the kept window it works.
    let (mut c, _) = Client::connect(&server, "d").await;
    let (replayed, ack) =
        subscribe_since(&mut c, "feed:t", Some(json!({"epoch": epoch, "offset": 3}))).await;
    assert_eq!(
        offsets_and_payloads(&replayed),
        vec![(4, json!(4)), (5, json!(5))]
    );
    assert_eq!(ack["recovered"], true);
}

/// The subscriber drops and comes back over and over while a publisher
/// keeps publishing: the payloads it ends with are exactly 0..N, in order,
/// each once, offsets one apart.
async fn no_gap_and_no_duplicate_at_the_seam_between_replay_and_live(engine: Engine) {
    const N: u64 = 400;
    let server = engine.start(with_history(engine.config(), 500)).await;
    let url = format!("ws://{}/ws", server.addr);
    // The first position, before anything is published.
    let (mut c, _) = Client::connect(&server, "reader").await;
    let (_, ack) = subscribe_since(&mut c, "feed:seam", None).await;
    drop(c);
    let mut position = Some(json!({"epoch": ack["epoch"], "offset": 0}));
    let publishing = {
        let url = url.clone();
        tokio::spawn(async move {
            let mut publisher = Client::open_url(&url).await;
            let ok = publisher
                .request(json!({"type": "hub:connect", "id": "c", "address": "pub"}))
                .await;
            assert_eq!(ok["type"], "hub:connected");
            for i in 0..N {
                publish_offset(&mut publisher, "feed:seam", json!(i)).await;
            }
        })
    };
    let mut got: Vec<(u64, Value)> = Vec::new();
    let mut reconnects = 0;
    while got.len() < N as usize {
        let (mut c, _) = Client::connect(&server, "reader").await;
        let (replayed, ack) = subscribe_since(&mut c, "feed:seam", position.clone()).await;
        assert_eq!(ack["recovered"], true, "{ack}");
        got.extend(offsets_and_payloads(&replayed));
        // Take a few live ones, then drop the connection mid-stream.
        for _ in 0..25 {
            if got.len() == N as usize {
                break;
            }
            let m = c.expect("hub:message").await;
            got.extend(offsets_and_payloads(&[m]));
        }
        let last = got
            .last()
            .map_or(ack["offset"].as_u64().unwrap(), |(o, _)| *o);
        position = Some(json!({"epoch": ack["epoch"], "offset": last}));
        reconnects += 1;
    }
    publishing.await.unwrap();
    assert!(reconnects > 3, "the reader came back several times");
    let expected: Vec<(u64, Value)> = (0..N).map(|i| (i + 1, json!(i))).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn recovering_needs_the_history_right() {
    let mut config = history_config(10);
    config.hub.namespaces.get_mut("feed").unwrap().history = hub_core::permissions::Policy::Nobody;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "a").await;
    let (_, ack) = subscribe_since(&mut c, "feed:t", None).await;
    assert_eq!(
        ack["type"], "hub:subscribe_ack",
        "live subscribing needs no history right"
    );
    let (mut c, _) = Client::connect(&server, "b").await;
    let since = json!({"epoch": ack["epoch"], "offset": 0});
    let (_, refusal) = subscribe_since(&mut c, "feed:u", Some(since)).await;
    assert_eq!(refusal["type"], "hub:error", "{refusal}");
    assert_eq!(refusal["code"], "forbidden", "{refusal}");
    assert!(
        refusal["hint"].as_str().unwrap().contains("history"),
        "{refusal}"
    );
}

#[tokio::test]
async fn a_malformed_position_is_named() {
    let server = start(history_config(10));
    let (mut c, _) = Client::connect(&server, "a").await;
    for since in [
        json!(3),
        json!({"epoch": 1, "offset": 0}),
        json!({"epoch": "e", "offset": -1}),
    ] {
        let (_, e) = subscribe_since(&mut c, "feed:t", Some(since)).await;
        assert_eq!(e["code"], "invalid_field", "{e}");
        assert!(e["message"].as_str().unwrap().contains("since"), "{e}");
    }
    // A topic without history: nothing to recover from, said plainly.
    let (_, ack) = subscribe_since(&mut c, "plain", Some(json!({"epoch": "e", "offset": 1}))).await;
    assert_eq!(ack["recovered"], false, "{ack}");
    assert!(ack.get("epoch").is_none(), "{ack}");
    c.send(json!({"type": "hub:publish", "id": "p", "topic": "plain", "payload": 1}))
        .await;
    // Its own publication and the ack, in either order: neither has an offset.
    for _ in 0..2 {
        let f = c.next_frame().await;
        assert!(["hub:message", "hub:publish_ack"].contains(&f["type"].as_str().unwrap()));
        assert!(f.get("offset").is_none(), "no offsets without history: {f}");
    }
}

#[tokio::test]
async fn history_survives_a_restart_with_its_epoch() {
    let dir = TempDir::new("restart");
    let disk = || {
        let mut config = history_config(100);
        config.durability = Durability::Disk;
        config.data_dir = dir.0.display().to_string();
        config
    };
    let server = start(disk());
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    for i in 1..=3 {
        publish_offset(&mut publisher, "feed:kept", json!(i)).await;
    }
    // The epoch, as a subscriber learns it.
    let (mut c, _) = Client::connect(&server, "c").await;
    let (_, ack) = subscribe_since(&mut c, "feed:kept", None).await;
    let epoch = ack["epoch"].clone();
    drop((publisher, c));
    server.shutdown();

    let server = start(disk());
    let (mut c, _) = Client::connect(&server, "c").await;
    let (replayed, ack) = subscribe_since(
        &mut c,
        "feed:kept",
        Some(json!({"epoch": epoch, "offset": 1})),
    )
    .await;
    assert_eq!(
        offsets_and_payloads(&replayed),
        vec![(2, json!(2)), (3, json!(3))]
    );
    assert_eq!((&ack["recovered"], &ack["epoch"]), (&json!(true), &epoch));
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    assert_eq!(
        publish_offset(&mut publisher, "feed:kept", json!(4)).await,
        4,
        "numbering goes on"
    );
}

/// The real binary, SIGKILLed while a publisher pipelines publications:
/// after a restart on the same directory, every publication whose ack came
/// (within the kept window) is recovered from history, in order, each once;
/// the epoch is the same, and offsets given after the crash never reuse one
/// given before.
#[tokio::test(flavor = "multi_thread")]
async fn acked_publications_survive_kill_9() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = TempDir::new("kill9");
    let port = free_port();
    let hub = Binary::start(&dir, port, &["namespaces.feed.history_size=500"]).await;
    let mut watcher = Client::connect_url(&hub.url, "watcher", &[]).await.0;
    let (_, ack) = subscribe_since(&mut watcher, "feed:k", None).await;
    let epoch = ack["epoch"].clone();

    let (ws, _) = tokio_tungstenite::connect_async(&hub.url).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    let connect = json!({"type": "hub:connect", "id": "c", "address": "pub"});
    tx.send(Message::Text(connect.to_string().into()))
        .await
        .unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = answered.clone();
    let acks = tokio::spawn(async move {
        let mut acked = Vec::new();
        while let Some(Ok(Message::Text(text))) = rx.next().await {
            for line in text.lines() {
                let frame: Value = serde_json::from_str(line).unwrap();
                if frame["type"] == "hub:publish_ack" {
                    acked.push((
                        frame["offset"].as_u64().unwrap(),
                        frame["id"].as_u64().unwrap(),
                    ));
                    counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        acked
    });
    // At most 200 unanswered, so what was recorded but not yet answered at
    // the kill stays within the kept window.
    let window = answered.clone();
    let writer = tokio::spawn(async move {
        for i in 0..20_000u64 {
            while i as usize >= window.load(std::sync::atomic::Ordering::Relaxed) + 200 {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            let publish = json!({"type": "hub:publish", "id": i, "topic": "feed:k", "payload": i});
            if tx
                .send(Message::Text(publish.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while answered.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "publications were not answered"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(hub); // SIGKILL
    writer.abort();
    let acked = acks.await.unwrap();
    assert!(
        acked.len() >= 100,
        "answered before the kill: {}",
        acked.len()
    );
    assert!(acked.len() < 20_000, "the kill came after the last publish");

    // The history keeps the newest 500: recover the last 300 acked and more.
    let last = acked.iter().map(|(offset, _)| *offset).max().unwrap();
    let from = last.saturating_sub(300);
    let hub = Binary::start(&dir, port, &["namespaces.feed.history_size=500"]).await;
    let mut c = Client::connect_url(&hub.url, "reader", &[]).await.0;
    let since = json!({"epoch": epoch, "offset": from});
    let (replayed, ack) = subscribe_since(&mut c, "feed:k", Some(since)).await;
    assert_eq!(
        (&ack["recovered"], &ack["epoch"]),
        (&json!(true), &epoch),
        "{ack}"
    );
    let replayed = offsets_and_payloads(&replayed);
    for pair in replayed.windows(2) {
        assert!(pair[0].0 < pair[1].0, "in offset order, no repeat");
    }
    for (offset, id) in acked.iter().filter(|(offset, _)| *offset > from) {
        assert!(
            replayed.contains(&(*offset, json!(id))),
            "acked publication {id} (offset {offset}) was lost"
        );
    }
    let mut publisher = Client::connect_url(&hub.url, "pub", &[]).await.0;
    let next = publish_offset(&mut publisher, "feed:k", json!("after")).await;
    assert!(
        next > 1 << 20,
        "offsets skipped ahead after the crash: {next}"
    );
}

/// Over the node's `history_max_total_bytes` the topic that keeps
/// publishing gives up its own oldest publications; a quiet topic keeps
/// all of its own.
#[tokio::test]
async fn the_node_budget_is_paid_by_the_topic_that_publishes() {
    let mut config = history_config(100);
    config.hub.history_max_total_bytes = 4_000;
    let server = start(config);
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    let (mut reader, _) = Client::connect(&server, "reader").await;
    let (_, quiet_ack) = subscribe_since(&mut reader, "feed:quiet", None).await;
    let (_, busy_ack) = subscribe_since(&mut reader, "feed:busy", None).await;
    for i in 0..3 {
        publish_offset(&mut publisher, "feed:quiet", json!(i)).await;
    }
    let big = "b".repeat(200);
    for _ in 0..50 {
        publish_offset(&mut publisher, "feed:busy", json!(big)).await;
    }
    let kept = metric(&server, |m| m.history_bytes);
    assert!(kept <= 4_000, "bounded: {kept}");
    drop(reader);

    let (mut c, _) = Client::connect(&server, "late").await;
    let since = |ack: &Value| json!({"epoch": ack["epoch"], "offset": 0});
    let (replayed, ack) = subscribe_since(&mut c, "feed:quiet", Some(since(&quiet_ack))).await;
    assert_eq!(
        (ack["recovered"].clone(), replayed.len()),
        (json!(true), 3),
        "{ack}"
    );
    let (replayed, ack) = subscribe_since(&mut c, "feed:busy", Some(since(&busy_ack))).await;
    assert_eq!(
        (ack["recovered"].clone(), replayed.len()),
        (json!(false), 0),
        "{ack}"
    );
}

// One test per engine of each: memory, redb and Redis.
on_every_engine!(
    a_subscriber_recovers_what_it_missed_before_anything_live,
    a_gap_beyond_history_is_reported_and_nothing_is_replayed,
    no_gap_and_no_duplicate_at_the_seam_between_replay_and_live,
);
