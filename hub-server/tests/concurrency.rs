//! Races: many events at once for one address or one topic. Exactly one
//! winner, nothing lost.

mod common;

use common::*;
use serde_json::json;
use tokio::sync::mpsc;

/// What one racing client ended up as.
#[derive(Debug)]
enum Outcome {
    /// Evicted: saw `hub:disconnect` (duplicate_connection) then this close code.
    Evicted { code: u16, disconnect_frame: bool },
    /// Still connected; received the probe message.
    Survivor,
}

/// 50 concurrent connects for one address: exactly one session survives, 49
/// are evicted with a `duplicate_connection` frame and terminal close code
/// 4500, and a direct send reaches the survivor (the registry agrees with it).
#[tokio::test]
async fn fifty_racing_connects_for_one_address_leave_exactly_one() {
    const N: usize = 50;
    let server = start_default();
    let (tx, mut rx) = mpsc::channel(N);
    let mut opened = Vec::new();
    for _ in 0..N {
        opened.push(Client::open(&server).await);
    }
    for mut c in opened {
        let tx = tx.clone();
        tokio::spawn(async move {
            c.send(json!({"type": "hub:connect", "address": "dup"}))
                .await;
            let mut disconnect_frame = false;
            loop {
                match c.next_event().await {
                    Event::Frame(f) if f["type"] == "hub:disconnect" => {
                        assert_eq!(f["reason"], "duplicate_connection");
                        assert_eq!(f["reconnect"], false);
                        disconnect_frame = true;
                    }
                    Event::Frame(f) if f["type"] == "hub:message" => {
                        assert_eq!(f["payload"], "probe");
                        let _ = tx.send(Outcome::Survivor).await;
                        return;
                    }
                    Event::Frame(f) => assert_eq!(f["type"], "hub:connected", "{f}"),
                    Event::Closed { code, .. } => {
                        let _ = tx
                            .send(Outcome::Evicted {
                                code,
                                disconnect_frame,
                            })
                            .await;
                        return;
                    }
                    Event::Eof => panic!("connection dropped without a close frame"),
                }
            }
        });
    }
    drop(tx);
    let mut evicted = 0;
    while evicted < N - 1 {
        match rx.recv().await.expect("every client reports") {
            Outcome::Evicted {
                code,
                disconnect_frame,
            } => {
                assert_eq!(code, 4500);
                assert!(
                    disconnect_frame,
                    "hub:disconnect must precede the close frame"
                );
                evicted += 1;
            }
            Outcome::Survivor => panic!("probe sent before the race settled"),
        }
    }
    let (mut probe, _) = Client::connect(&server, "prober").await;
    let ack = probe
        .request(json!({"type": "hub:send", "to": "dup", "payload": "probe"}))
        .await;
    assert_eq!(ack["status"], "accepted");
    assert!(matches!(rx.recv().await, Some(Outcome::Survivor)));
    assert_eq!(metric(&server, |m| m.evictions_total), (N - 1) as u64);
}

/// 100 sessions subscribe to one new topic at once: the topic actor is created
/// exactly once and a publish after all acks reaches all 100.
#[tokio::test]
async fn hundred_racing_first_subscribes_create_one_topic() {
    const N: usize = 100;
    let server = start_default();
    let mut clients = Vec::new();
    for i in 0..N {
        clients.push(Client::connect(&server, &format!("s{i}")).await.0);
    }
    for c in &mut clients {
        c.send(json!({"type": "hub:subscribe", "topic": "hot"}))
            .await;
    }
    for c in &mut clients {
        c.expect("hub:subscribe_ack").await;
    }
    assert_eq!(metric(&server, |m| m.topics_created_total), 1);
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    assert_eq!(publisher.publish("hot", json!("all")).await, N as u64);
    for c in &mut clients {
        assert_eq!(c.expect("hub:message").await["payload"], "all");
    }
}

/// Many publishers at once on one topic: every subscriber gets every message,
/// each publisher's messages in its own order.
#[tokio::test]
async fn concurrent_publishers_lose_nothing_and_keep_per_sender_order() {
    const PUBLISHERS: usize = 5;
    const MESSAGES: u64 = 50;
    let server = start_default();
    let (mut sub, _) = Client::connect(&server, "sub").await;
    sub.subscribe("t").await;
    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let (mut c, _) = Client::connect(&server, &format!("p{p}")).await;
        tasks.push(tokio::spawn(async move {
            for i in 0..MESSAGES {
                c.send(json!({"type": "hub:publish", "topic": "t", "payload": i}))
                    .await;
            }
            for _ in 0..MESSAGES {
                assert_eq!(c.expect("hub:publish_ack").await["recipients"], 1);
            }
        }));
    }
    let mut next = [0u64; PUBLISHERS];
    for _ in 0..(PUBLISHERS as u64 * MESSAGES) {
        let m = sub.expect("hub:message").await;
        let p: usize = m["from"].as_str().unwrap()[1..].parse().unwrap();
        assert_eq!(m["payload"], next[p], "out of order from p{p}");
        next[p] += 1;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(next.iter().all(|&n| n == MESSAGES));
}
