//! Addresses across nodes: one holder per address, watchers, leases of killed nodes, direct messages and broadcasts to addresses held elsewhere, the hub-wide max_registered.

use super::*;

#[actix_rt::test]
async fn the_newest_connection_for_an_address_wins_across_nodes() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t5:"), node_config(&redis, "t5:")]).await;

    // One after the other: the session on node one is evicted by node two's.
    let (mut first, _) = Client::connect(&one, "alice").await;
    let (mut second, _) = Client::connect(&two, "alice").await;
    let (_, code) = first.until_close().await;
    assert_eq!(code, 4500, "the older session is told duplicate_connection");
    assert!(alive(&mut second).await);
    // Node one holds nothing for alice any more: a send made there goes to
    // her session on node two.
    let (mut other, _) = Client::connect(&one, "other").await;
    let ack = other
        .request(json!({"type": "hub:send", "id": "s", "to": "alice", "payload": 1}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let m = second.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_u64()),
        (Some("other"), Some(1))
    );

    // Racing: ten connects for bob at once, on both nodes. Exactly one
    // session survives; every other is told duplicate_connection.
    let connects = (0..10).map(|i| {
        let url = if i % 2 == 0 {
            one.ws_url()
        } else {
            two.ws_url()
        };
        async move { Client::connect_url(&url, "bob", &[]).await.0 }
    });
    let mut clients = futures_util::future::join_all(connects).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut survivors = Vec::new();
        for mut c in clients {
            if alive(&mut c).await {
                survivors.push(c);
            }
        }
        assert!(!survivors.is_empty(), "every session for bob was evicted");
        if survivors.len() == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} sessions still hold bob",
            survivors.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        clients = survivors;
    }
    assert_eq!(
        metric(&one, |m| m.evictions_total) + metric(&two, |m| m.evictions_total),
        1 + 9,
        "each eviction counted once, by the node that claimed"
    );
}

#[actix_rt::test]
async fn a_watcher_hears_an_address_on_another_node_come_and_go_once() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "t6:");
    config.hub.offline_grace_ms = 200;
    let [one, two] = ready_nodes([config.clone(), config]).await;
    let (mut watcher, _) = Client::connect(&one, "watcher").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "bob"}))
        .await;
    assert_eq!(
        (ack["type"].as_str(), ack["online"].as_bool()),
        (Some("hub:watch_ack"), Some(false))
    );

    let (bob, _) = Client::connect(&two, "bob").await;
    assert_eq!(watcher.expect("hub:online").await["address"], "bob");
    // Dropped and back on the other node within the grace: no one hears it.
    drop(bob);
    let (mut bob, _) = Client::connect(&one, "bob").await;
    // Goodbye: offline at once, once.
    bob.send(json!({"type": "hub:disconnect"})).await;
    bob.until_close().await;
    assert_eq!(watcher.expect("hub:offline").await["address"], "bob");
    // The next announcement is bob's next coming online: nothing between.
    let (_bob, _) = Client::connect(&two, "bob").await;
    assert_eq!(watcher.expect("hub:online").await["address"], "bob");
}

#[actix_rt::test]
async fn a_killed_node_s_addresses_go_offline_once_when_their_leases_run_out() {
    let redis = Redis::start().await;
    // The doomed node's sessions hold 1.5 s leases; the survivors look for
    // leases run out every 100 ms.
    let mut config = node_config(&redis, "t7:");
    config.hub.ttl_sweep_interval_ms = 100;
    let one = start(config.clone());
    let two = start(config);
    let (_dir, doomed) = doomed_node(&redis, "t7:", &["registration_ttl_ms=1500"]).await;
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    let (mut watcher_one, _) = Client::connect(&one, "w1").await;
    let (mut watcher_two, _) = Client::connect(&two, "w2").await;
    let (_carol, _) = Client::connect_url(&doomed.url, "carol", &[]).await;
    for w in [&mut watcher_one, &mut watcher_two] {
        let ack = w
            .request(json!({"type": "hub:watch", "id": "w", "address": "carol"}))
            .await;
        assert_eq!(ack["online"], true, "{ack}");
    }

    doomed.kill_9();
    // Nobody said goodbye: carol's lease runs out, one node's lease alarm
    // finds it, and every watcher on every node hears one hub:offline.
    for w in [&mut watcher_one, &mut watcher_two] {
        assert_eq!(w.expect("hub:offline").await["address"], "carol");
    }
    // Her next session (on a surviving node) is the next thing they hear.
    let (_carol, _) = Client::connect(&two, "carol").await;
    for w in [&mut watcher_one, &mut watcher_two] {
        assert_eq!(w.expect("hub:online").await["address"], "carol");
    }
}

#[actix_rt::test]
async fn a_direct_message_reaches_an_address_on_another_node_with_its_outcome() {
    let redis = Redis::start().await;
    let one = start(node_config(&redis, "t8:"));
    // Node two stores direct messages: a recipient held elsewhere is still
    // sent to its node, not queued here.
    let mut config = node_config(&redis, "t8:");
    config.durability = hub_server::Durability::Memory;
    let two = start(config);
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;

    for i in 0..50 {
        alice
            .send(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i, "correlation_id": format!("c{i}")}))
            .await;
    }
    for i in 0..50 {
        let ack = alice.expect("hub:delivery_ack").await;
        assert_eq!(
            (ack["id"].as_u64(), ack["status"].as_str()),
            (Some(i), Some("accepted")),
            "{ack}"
        );
    }
    for i in 0..50 {
        let m = bob.expect("hub:message").await;
        assert_eq!(
            (m["from"].as_str(), m["payload"].as_u64()),
            (Some("alice"), Some(i)),
            "{m}"
        );
        assert_eq!(m["correlation_id"], format!("c{i}"));
    }
    bob.expect_nothing_pending().await;

    // A reply crosses back, from a node that stores: accepted, not queued.
    let ack = bob
        .request(json!({"type": "hub:send", "id": "r", "to": "alice", "payload": "pong", "in_reply_to": "c0"}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let m = alice.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["in_reply_to"].as_str()),
        (Some("bob"), Some("c0"))
    );

    // An application embedding node two sends to alice on node one.
    let sent = two
        .hub
        .send("app", "alice", &"from the app", SendOptions::default())
        .await;
    assert_eq!(sent, Ok(hub_core::protocol::DeliveryStatus::Accepted));
    let m = alice.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_str()),
        (Some("app"), Some("from the app"))
    );

    // No holder anywhere: the same refusal as on one node.
    let ack = alice
        .request(json!({"type": "hub:send", "id": "n", "to": "nobody", "payload": 1}))
        .await;
    assert_eq!(
        (ack["status"].as_str(), ack["reason"].as_str()),
        (Some("rejected"), Some("recipient_not_found")),
        "{ack}"
    );
    // Fire-and-forget across nodes: delivered, in order, and answered only
    // when refused (the ping after them is the next frame).
    for i in 0..5 {
        alice
            .send(json!({"type": "hub:send", "to": "bob", "payload": i, "ack": false}))
            .await;
    }
    alice
        .send(json!({"type": "hub:send", "id": "x", "to": "nobody", "payload": 1, "ack": false}))
        .await;
    let refused = alice.expect("hub:delivery_ack").await;
    assert_eq!(
        (refused["id"].as_str(), refused["reason"].as_str()),
        (Some("x"), Some("recipient_not_found"))
    );
    for i in 0..5 {
        assert_eq!(bob.expect("hub:message").await["payload"], i);
    }
    alice.expect_nothing_pending().await;

    // Bob leaves: the next send to him finds no one.
    bob.send(json!({"type": "hub:disconnect"})).await;
    bob.until_close().await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": "g", "to": "bob", "payload": 1}))
        .await;
    assert_eq!(ack["reason"], "recipient_not_found", "{ack}");
}

#[actix_rt::test]
async fn a_broadcast_reaches_listed_addresses_on_every_node() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t9:"), node_config(&redis, "t9:")]).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut carol, _) = Client::connect(&one, "carol").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;

    alice
        .send(json!({"type": "hub:broadcast", "id": "b", "to": ["bob", "carol", "ghost", "bob"], "payload": "all hands"}))
        .await;
    // Answers keep their order: the ping sent after the broadcast is
    // answered after it.
    alice.send(json!({"type": "hub:ping", "id": "after"})).await;
    let ack = alice.expect("hub:broadcast_ack").await;
    assert_eq!(ack["recipients"], 2, "{ack}");
    assert_eq!(ack["not_found"], json!(["ghost"]), "{ack}");
    assert_eq!(alice.expect("hub:pong").await["id"], "after");
    for c in [&mut bob, &mut carol] {
        let m = c.expect("hub:message").await;
        assert_eq!(
            (m["from"].as_str(), m["payload"].as_str()),
            (Some("alice"), Some("all hands"))
        );
        c.expect_nothing_pending().await;
    }
}

#[actix_rt::test]
async fn when_a_node_is_killed_its_clients_move_unseen_and_the_rest_go_offline_once() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "t10:");
    config.hub.ttl_sweep_interval_ms = 100;
    let one = start(config.clone());
    let two = start(config);
    let (_dir, doomed) = doomed_node(&redis, "t10:", &["registration_ttl_ms=1500"]).await;
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    let (_mover, _) = Client::connect_url(&doomed.url, "mover", &[]).await;
    let (_gone, _) = Client::connect_url(&doomed.url, "gone", &[]).await;
    let (mut watcher, _) = Client::connect(&one, "watcher").await;
    for address in ["mover", "gone"] {
        let ack = watcher
            .request(json!({"type": "hub:watch", "id": "w", "address": address}))
            .await;
        assert_eq!(ack["online"], true, "{ack}");
    }
    let (mut alice, _) = Client::connect(&one, "alice").await;

    doomed.kill_9();
    // The holder's node is gone: a send is refused, not acked into a void.
    let ack = alice
        .request(json!({"type": "hub:send", "id": 1, "to": "mover", "payload": "lost?"}))
        .await;
    assert_eq!(ack["reason"], "recipient_not_found", "{ack}");
    // The mover comes back on another node within its lease: it takes its
    // address over (no one hears of it) and is reachable there.
    let (mut mover, _) = Client::connect(&two, "mover").await;
    let ack = alice
        .request(json!({"type": "hub:send", "id": 2, "to": "mover", "payload": "found"}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(mover.expect("hub:message").await["payload"], "found");
    // The one that does not come back goes offline once its lease runs
    // out: the first thing the watcher hears.
    assert_eq!(watcher.expect("hub:offline").await["address"], "gone");
    // And the mover's goodbye is the next.
    mover.send(json!({"type": "hub:disconnect"})).await;
    mover.until_close().await;
    assert_eq!(watcher.expect("hub:offline").await["address"], "mover");
}

#[actix_rt::test]
async fn a_broadcast_to_everyone_reaches_every_node() {
    let redis = Redis::start().await;
    let one = start(node_config(&redis, "t14:"));
    let two = start(node_config(&redis, "t14:"));
    let three = start(node_config(&redis, "t14:"));
    for node in [&one, &two, &three] {
        eventually_ready(node).await;
    }
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut carol, _) = Client::connect(&one, "carol").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    let (mut dave, _) = Client::connect(&three, "dave").await;
    let (mut erin, _) = Client::connect(&three, "erin").await;

    alice
        .send(json!({"type": "hub:broadcast", "id": "b", "to": "*", "payload": "everyone"}))
        .await;
    alice.send(json!({"type": "hub:ping", "id": "after"})).await;
    let ack = alice.expect("hub:broadcast_ack").await;
    assert_eq!(
        ack["recipients"], 4,
        "every address on every node but the sender: {ack}"
    );
    assert_eq!(alice.expect("hub:pong").await["id"], "after");
    for c in [&mut carol, &mut bob, &mut dave, &mut erin] {
        let m = c.expect("hub:message").await;
        assert_eq!(
            (m["from"].as_str(), m["payload"].as_str()),
            (Some("alice"), Some("everyone"))
        );
        c.expect_nothing_pending().await;
    }
    // The sender hears nothing of its own broadcast.
    alice.expect_nothing_pending().await;
}

#[actix_rt::test]
async fn max_registered_bounds_the_addresses_of_the_whole_hub() {
    let redis = Redis::start().await;
    let config = || {
        let mut config = node_config(&redis, "t17:");
        config.hub.max_registered = 2;
        config
    };
    let [one, two] = ready_nodes([config(), config()]).await;
    let (_a, _) = Client::connect(&one, "a").await;
    let (mut b, _) = Client::connect(&two, "b").await;
    // The same address again takes its own place: still two held.
    let (mut b, _) = {
        let again = Client::connect(&one, "b").await;
        b.until_close().await;
        again
    };
    let node_two = &two;
    let connect = |address: &'static str| async move {
        let mut c = Client::open(node_two).await;
        c.request(json!({"type": "hub:connect", "id": "c", "address": address}))
            .await
    };
    let refused = connect("c").await;
    assert_eq!(refused["code"], "registry_full", "{refused}");
    // One leaves: there is room again, on any node.
    b.send(json!({"type": "hub:disconnect"})).await;
    b.until_close().await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let answer = connect("c").await;
        if answer["type"] == "hub:connected" {
            break;
        }
        assert_eq!(answer["code"], "registry_full", "{answer}");
        assert!(tokio::time::Instant::now() < deadline, "never room again");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn only_watched_addresses_are_announced_and_a_watch_outlives_the_lease() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "t23:");
    // Watches are marked for 1.5 s and marked again every 0.5 s; stale
    // marks are dropped by the sweep every 100 ms.
    config.hub.registration_ttl_ms = 1_500;
    config.hub.ttl_sweep_interval_ms = 100;
    let [one] = ready_nodes([config]).await;
    redis.cli(&["CONFIG", "RESETSTAT"]);

    // No one watches quiet: coming online and going offline tell no node.
    let (mut quiet, _) = Client::connect(&one, "quiet").await;
    quiet.send(json!({"type": "hub:disconnect"})).await;
    quiet.until_close().await;
    for _ in 0..1_000 {
        if redis.cli(&["EXISTS", "{t23:dir}a:quiet"]) == "0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(redis.cli(&["EXISTS", "{t23:dir}a:quiet"]), "0", "released");
    assert_eq!(redis.calls("spublish"), 0, "nothing announced for quiet");

    // Watched for longer than a watch's mark lasts: still announced.
    let (mut watcher, _) = Client::connect(&one, "watcher").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "loud"}))
        .await;
    assert_eq!(ack["online"], false, "{ack}");
    for _ in 0..8 {
        // Active, so the watcher's own lease is renewed meanwhile.
        let pong = watcher
            .request(json!({"type": "hub:ping", "id": "p"}))
            .await;
        assert_eq!(pong["type"], "hub:pong", "{pong}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let (_loud, _) = Client::connect(&one, "loud").await;
    assert_eq!(watcher.expect("hub:online").await["address"], "loud");
    assert_eq!(redis.calls("spublish"), 1, "loud's online, once");
}

#[actix_rt::test]
async fn names_with_quotes_and_backslashes_cross_nodes() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t25:"), node_config(&redis, "t25:")]).await;
    let (alice, bob) = (r#"al"ice"#, r"b\ob");
    let (mut a, _) = Client::connect(&one, alice).await;
    let (mut b, _) = Client::connect(&two, bob).await;
    let ack = a
        .request(json!({"type": "hub:send", "id": "s", "to": bob, "payload": 1}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let m = b.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_u64()),
        (Some(alice), Some(1)),
        "{m}"
    );
}
