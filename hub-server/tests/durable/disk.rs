//! The redb store on disk: it survives a restart and kill -9 with nothing acknowledged lost, refuses a foreign file, and bounds its bytes and dedupe memory.

use super::*;

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

/// The hub knows a user's devices again after a restart: a send to the
/// user is still stored for a device that was away across it.
#[tokio::test]
async fn a_users_devices_are_known_after_a_restart() {
    let dir = TempDir::new("devices");
    let server = start(disk_config(&dir));
    let mut laptop = Client::open(&server).await;
    let hello = json!({"type": "hub:connect", "id": "c", "address": "bob", "device": "laptop",
        "features": ["ack"]});
    assert_eq!(laptop.request(hello.clone()).await["type"], "hub:connected");
    laptop.request(json!({"type": "hub:disconnect"})).await;
    laptop.until_close().await;
    server.shutdown();

    let server = start(disk_config(&dir));
    let (mut alice, _) = Client::connect(&server, "alice").await;
    assert_eq!(send(&mut alice, "bob", json!(1)).await["status"], "queued");
    let mut laptop = Client::open(&server).await;
    assert_eq!(laptop.request(hello).await["type"], "hub:connected");
    assert_eq!(take(&mut laptop, 1).await, vec![(1, json!(1))]);
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
