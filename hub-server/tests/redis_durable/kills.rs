//! Nodes and Redis killed under load: nothing acknowledged is lost, nothing is delivered twice, a sender retries elsewhere, an SDK client carries on, what must be stored is refused while Redis is away.

use super::*;

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
    node.until_ready().await;
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
