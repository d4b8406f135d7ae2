//! Inboxes belong to the hub: read from any node, the window and caps hold hub-wide, a retried send is stored once, receipts come back across nodes, a client without acks takes each message once, the API of one node reaches the whole hub.

use super::*;

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
    // Across routes there is no order (PROTOCOL, "Ordering"): the topic's
    // channel and the node's channel in Redis may hand them over either way.
    let mut got = [
        reader.expect("hub:message").await["payload"].clone(),
        reader.expect("hub:message").await["payload"].clone(),
    ];
    got.sort_by_key(|p| p.to_string());
    assert_eq!(got, [json!("all"), json!("once")]);
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

#[actix_rt::test]
async fn a_stored_send_to_another_node_is_one_script_on_the_sender_s_node() {
    let redis = Redis::start().await;
    // No lease sweeps meanwhile: every script counted below is the send's.
    let config = || {
        let mut config = stored_config(&redis, "d12:");
        config.hub.ttl_sweep_interval_ms = 600_000;
        config
    };
    let [one, two] = started([config(), config()]).await;
    let mut bob = acking(&two.ws_url(), "bob").await;
    inbox_made(&redis, "d12:", "bob").await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    // The scripts are loaded on first use.
    assert_eq!(
        send(&mut alice, "bob", json!(1)).await["status"],
        "accepted"
    );
    assert_eq!(take(&mut bob, 1).await, vec![(1, json!(1))]);

    redis.cli(&["CONFIG", "RESETSTAT"]);
    let ack = send(&mut alice, "bob", json!(2)).await;
    assert_eq!(ack["status"], "accepted", "handed over on node two: {ack}");
    assert_eq!(take(&mut bob, 1).await, vec![(2, json!(2))]);
    // Stored, and node two told, in one script run from node one; node
    // two's outcome is the only other command.
    assert_eq!(redis.calls("evalsha"), 1, "one script");
    assert_eq!(
        redis.calls("spublish"),
        2,
        "the message there, the outcome back"
    );

    // With a msg_id, node two records it `accepted` before it answers:
    // still one command from node one, and a retry is answered the same.
    redis.cli(&["CONFIG", "RESETSTAT"]);
    let monitor = redis.monitor();
    let with_id = json!({"type": "hub:send", "id": "s", "to": "bob", "payload": 3, "msg_id": "m3"});
    let ack = alice.request(with_id.clone()).await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(take(&mut bob, 1).await, vec![(3, json!(3))]);
    let appended_by = monitor.sender_of(&["\"EVALSHA\""]).expect("the append");
    let recorded_by = monitor
        .sender_of(&["\"SET\"", "accepted"])
        .expect("recorded");
    assert_ne!(
        appended_by, recorded_by,
        "recorded by node two, not node one"
    );
    drop(monitor);
    assert_eq!(redis.calls("evalsha"), 1, "one script");
    assert_eq!(
        redis.calls("set"),
        2,
        "queued by the script, accepted by node two"
    );
    let retry = alice.request(with_id).await;
    assert_eq!(
        retry["status"], "accepted",
        "the first attempt's status: {retry}"
    );
    bob.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn a_stored_send_to_a_name_with_quotes_crosses_nodes() {
    let redis = Redis::start().await;
    let [one, two] = started([stored_config(&redis, "d13:"), stored_config(&redis, "d13:")]).await;
    let bob = r#"b"o\b"#;
    let mut b = acking(&two.ws_url(), bob).await;
    inbox_made(&redis, "d13:", bob).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let ack = send(&mut alice, bob, json!(1)).await;
    assert_eq!(ack["status"], "accepted", "handed over on node two: {ack}");
    assert_eq!(take(&mut b, 1).await, vec![(1, json!(1))]);
}
