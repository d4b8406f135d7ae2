//! Nodes of one hub sharing a real Redis (the `redis` engine), over real
//! sockets: a publication reaches subscribers on every node, once and in
//! order, including right after a subscribe was acknowledged on another
//! node; a node holds a topic's channel in Redis only while it has
//! subscribers; a node that loses Redis keeps serving its own sessions,
//! says 503 on `/ready` with the reason, and when Redis comes back it
//! subscribes again and is ready.

mod common;

use common::redis::{
    eventually_ready, history_config, node_config, ready, ready_nodes, recover, Link, Redis,
};
use common::Event;
use common::*;
use hub_core::SendOptions;
use serde_json::{json, Value};

/// Reads `count` publications to `topic` and returns their payloads.
async fn messages(client: &mut Client, topic: &str, count: usize) -> Vec<Value> {
    let mut payloads = Vec::with_capacity(count);
    for _ in 0..count {
        let m = client.expect("hub:message").await;
        assert_eq!(m["topic"], topic, "{m}");
        payloads.push(m["payload"].clone());
    }
    payloads
}

/// Publishes as a subscriber of `topic`: reads the ack and its own copy
/// (in whichever order they come); returns the ack's local recipients.
async fn publish_to_own(client: &mut Client, topic: &str, payload: Value) -> u64 {
    client
        .send(json!({"type": "hub:publish", "id": "p", "topic": topic, "payload": payload}))
        .await;
    let (mut ack, mut copy) = (None, None);
    for _ in 0..2 {
        let f = client.next_frame().await;
        match f["type"].as_str() {
            Some("hub:publish_ack") => ack = Some(f),
            Some("hub:message") => copy = Some(f),
            _ => panic!("unexpected {f}"),
        }
    }
    let copy = copy.expect("its own copy");
    assert_eq!(copy["payload"], payload, "{copy}");
    ack.expect("an ack")["recipients"]
        .as_u64()
        .expect("recipients")
}

/// The real hub-server binary as a node of the hub on `redis` (under
/// `prefix`), with `extra` settings: a node to kill with SIGKILL.
async fn doomed_node(redis: &Redis, prefix: &str, extra: &[&str]) -> (TempDir, common::Binary) {
    let dir = TempDir::new("redis-node");
    let url = format!("redis_url={}", redis.url());
    let prefix = format!("redis_prefix={prefix}");
    let mut settings = vec!["engine=redis", &url, &prefix, "durability=off"];
    settings.extend_from_slice(extra);
    let node = common::Binary::start(&dir, free_port(), &settings).await;
    (dir, node)
}

#[actix_rt::test]
async fn a_publication_reaches_subscribers_on_every_node_once_and_in_order() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t1:"), node_config(&redis, "t1:")]).await;

    let (mut here, _) = Client::connect(&one, "here").await;
    let (mut there, _) = Client::connect(&two, "there").await;
    here.subscribe("news").await;
    // Acknowledged means subscribed in Redis too: a publication made on the
    // other node right after reaches it.
    there.subscribe("news").await;

    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    for i in 0..100 {
        let local = publisher.publish("news", json!(i)).await;
        assert_eq!(local, 1, "the ack counts this node's subscribers");
    }
    let expected: Vec<Value> = (0..100).map(|i| json!(i)).collect();
    assert_eq!(messages(&mut here, "news", 100).await, expected);
    assert_eq!(messages(&mut there, "news", 100).await, expected);
    let m = {
        // The sender is named as on the node it published on.
        publisher.publish("news", json!("last")).await;
        here.expect("hub:message").await;
        there.expect("hub:message").await
    };
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_str()),
        (Some("publisher"), Some("last"))
    );
    here.expect_nothing_pending().await;
    there.expect_nothing_pending().await;

    // And the other way round.
    publish_to_own(&mut there, "news", json!("from two")).await;
    let m = here.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_str()),
        (Some("there"), Some("from two"))
    );
    assert!(metric(&two, |m| m.broker_received_total) >= 101);
    assert_eq!(metric(&one, |m| m.broker_dropped_total), 0);
}

#[actix_rt::test]
async fn a_subscribe_is_acknowledged_once_redis_took_it() {
    let redis = Redis::start().await;
    let one = start(node_config(&redis, "t4:"));
    // Node two's commands reach Redis a quarter of a second late.
    let far = Link::start(redis.port, std::time::Duration::from_millis(250)).await;
    let mut config = node_config(&redis, "t4:");
    config.redis_url = format!("redis://127.0.0.1:{}", far.port);
    let two = start(config);
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    let (mut there, _) = Client::connect(&two, "there").await;

    there.subscribe("first").await;
    publisher
        .publish("first", json!("right after the ack"))
        .await;
    let m = there.expect("hub:message").await;
    assert_eq!(m["payload"], "right after the ack", "{m}");
}

#[actix_rt::test]
async fn a_node_holds_a_topic_channel_only_while_it_has_subscribers() {
    let redis = Redis::start().await;
    let mut config = node_config(&redis, "t2:");
    config.hub.topic_idle_grace_ms = 50;
    let [one, two] = ready_nodes([config.clone(), config]).await;
    assert_eq!(redis.shard_subscribers("t2:t:quiet"), 0);

    let (mut a, _) = Client::connect(&one, "a").await;
    let (mut b, _) = Client::connect(&two, "b").await;
    a.subscribe("quiet").await;
    assert_eq!(redis.shard_subscribers("t2:t:quiet"), 1, "node one, once");
    b.subscribe("quiet").await;
    assert_eq!(redis.shard_subscribers("t2:t:quiet"), 2, "one per node");
    let (mut a2, _) = Client::connect(&one, "a2").await;
    a2.subscribe("quiet").await;
    assert_eq!(
        redis.shard_subscribers("t2:t:quiet"),
        2,
        "a second subscriber on a node adds no Redis subscription"
    );

    // Node two's last subscriber leaves: after the topic's idle grace, node
    // two no longer hears the topic.
    let ack = b
        .request(json!({"type": "hub:unsubscribe", "id": "u", "topic": "quiet"}))
        .await;
    assert_eq!(ack["type"], "hub:unsubscribe_ack", "{ack}");
    eventually("node two unsubscribed in redis", || {
        redis.shard_subscribers("t2:t:quiet") == 1
    })
    .await;
    // What node one publishes now reaches node one's subscribers, and node
    // two is not sent it: it takes the next publication to a topic it does
    // hear, and nothing before it.
    b.subscribe("loud").await;
    publish_to_own(&mut a, "quiet", json!("to one only")).await;
    a.publish("loud", json!("to both")).await;
    assert_eq!(a2.expect("hub:message").await["payload"], "to one only");
    assert_eq!(b.expect("hub:message").await["payload"], "to both");
    assert_eq!(metric(&two, |m| m.broker_received_total), 1);
}

#[actix_rt::test]
async fn a_node_without_redis_serves_its_sessions_reports_unready_and_recovers() {
    let mut redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t3:"), node_config(&redis, "t3:")]).await;
    let (mut here, _) = Client::connect(&one, "here").await;
    let (mut there, _) = Client::connect(&two, "there").await;
    let (mut late, _) = Client::connect(&one, "late").await;
    here.subscribe("room").await;
    there.subscribe("room").await;

    redis.kill();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let body = loop {
        let (status, body) = ready(&one).await;
        if status == 503 {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(body["status"], "unavailable", "{body}");
    let reason = body["reason"].as_str().expect("a reason");
    assert!(reason.contains("redis"), "{reason}");

    // Local sessions are served as before: subscribe, publish, receive.
    late.subscribe("room").await;
    assert_eq!(
        publish_to_own(&mut here, "room", json!("while away")).await,
        2
    );
    assert_eq!(late.expect("hub:message").await["payload"], "while away");

    // A new session cannot take its address hub-wide: refused, temporary.
    let mut newcomer = Client::open(&one).await;
    let refusal = newcomer
        .request(json!({"type": "hub:connect", "id": "c", "address": "newcomer"}))
        .await;
    assert_eq!(
        (refusal["code"].as_str(), refusal["temporary"].as_bool()),
        (Some("unavailable"), Some(true)),
        "{refusal}"
    );

    redis.restart().await;
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    // Both nodes subscribed again: a publication crosses both ways.
    publish_to_own(&mut here, "room", json!("back")).await;
    // What node one published while Redis was away reaches node two late
    // (written once Redis was back) or never; never twice, never after
    // what was published later.
    let mut first = there.expect("hub:message").await;
    if first["payload"] == "while away" {
        first = there.expect("hub:message").await;
    }
    assert_eq!(first["payload"], "back", "{first}");
    assert_eq!(late.expect("hub:message").await["payload"], "back");
    publish_to_own(&mut there, "room", json!("back too")).await;
    for c in [&mut here, &mut late] {
        assert_eq!(c.expect("hub:message").await["payload"], "back too");
    }
    assert_eq!(redis.shard_subscribers("t3:t:room"), 2);
    Client::connect(&one, "newcomer").await;
}

/// Whether `client`'s session is still open: a ping is answered, or the
/// session was closed with `duplicate_connection` (4500).
async fn alive(client: &mut Client) -> bool {
    client
        .send(json!({"type": "hub:ping", "id": "alive"}))
        .await;
    loop {
        match client.next_event().await {
            Event::Frame(f) if f["type"] == "hub:pong" => return true,
            Event::Frame(f) if f["type"] == "hub:disconnect" => continue,
            Event::Frame(f) => panic!("unexpected {f}"),
            Event::Closed { code, .. } => {
                assert_eq!(code, 4500, "evicted with duplicate_connection");
                return false;
            }
            Event::Eof => panic!("closed without a close frame"),
        }
    }
}

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
async fn a_watcher_whose_node_was_cut_off_from_redis_hears_what_it_missed() {
    let redis = Redis::start().await;
    let link = Link::start(redis.port, std::time::Duration::ZERO).await;
    let mut config = node_config(&redis, "t11:");
    config.redis_url = format!("redis://127.0.0.1:{}", link.port);
    let [one, two] = ready_nodes([config, node_config(&redis, "t11:")]).await;
    let (mut watcher, _) = Client::connect(&one, "watcher").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "bob"}))
        .await;
    assert_eq!(ack["online"], true, "{ack}");

    // Node one loses Redis; meanwhile bob leaves, announced to no one there.
    link.cut();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while ready(&one).await.0 == 200 {
        assert!(tokio::time::Instant::now() < deadline, "still ready");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    bob.send(json!({"type": "hub:disconnect"})).await;
    bob.until_close().await;

    // Back: node one asks about what its watchers watch, and tells them once.
    link.restore();
    eventually_ready(&one).await;
    assert_eq!(watcher.expect("hub:offline").await["address"], "bob");
    // Bob's return is the next thing it hears.
    let (_bob, _) = Client::connect(&two, "bob").await;
    assert_eq!(watcher.expect("hub:online").await["address"], "bob");
}

/// A node config whose `room` namespace tracks presence with joins and leaves.
fn presence_config(redis: &Redis, prefix: &str) -> hub_server::ServerConfig {
    let mut config = node_config(redis, prefix);
    config.hub.ttl_sweep_interval_ms = 100;
    let room = hub_core::permissions::NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..Default::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
}

async fn members(client: &mut Client, topic: &str) -> Vec<String> {
    let ack = client
        .request(json!({"type": "hub:presence", "id": "p", "topic": topic}))
        .await;
    assert_eq!(ack["type"], "hub:presence_ack", "{ack}");
    ack["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["address"].as_str().expect("address").to_owned())
        .collect()
}

#[actix_rt::test]
async fn a_topic_s_members_and_their_joins_and_leaves_span_nodes() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([
        presence_config(&redis, "t12:"),
        presence_config(&redis, "t12:"),
    ])
    .await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    alice.subscribe("room:a").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    bob.subscribe("room:a").await;
    let join = alice.expect("hub:join").await;
    assert_eq!(
        (join["address"].as_str(), join["topic"].as_str()),
        (Some("bob"), Some("room:a"))
    );

    // Every node lists every member, in address order; the count agrees.
    let (mut carol, _) = Client::connect(&two, "carol").await;
    assert_eq!(members(&mut carol, "room:a").await, ["alice", "bob"]);
    let stats = carol
        .request(json!({"type": "hub:presence_stats", "id": "s", "topic": "room:a"}))
        .await;
    assert_eq!(stats["members"], 2, "{stats}");
    // Pages across nodes: one at a time.
    let page = carol
        .request(json!({"type": "hub:presence", "id": "p", "topic": "room:a", "limit": 1}))
        .await;
    assert_eq!(
        (
            page["members"][0]["address"].as_str(),
            page["next"].as_str()
        ),
        (Some("alice"), Some("alice"))
    );
    let page = carol
        .request(json!({"type": "hub:presence", "id": "p", "topic": "room:a", "limit": 1, "after": "alice"}))
        .await;
    assert_eq!(page["members"][0]["address"], "bob");
    assert!(page["next"].is_null(), "{page}");

    // Bob leaves: alice, on the other node, hears it once, and he is no
    // longer listed anywhere.
    let ack = bob
        .request(json!({"type": "hub:unsubscribe", "id": "u", "topic": "room:a"}))
        .await;
    assert_eq!(ack["type"], "hub:unsubscribe_ack");
    let leave = alice.expect("hub:leave").await;
    assert_eq!(leave["address"], "bob");
    assert_eq!(members(&mut alice, "room:a").await, ["alice"]);
    // Bob's join is the next event: nothing came between.
    bob.subscribe("room:a").await;
    assert_eq!(alice.expect("hub:join").await["address"], "bob");
}

#[actix_rt::test]
async fn a_killed_node_s_members_leave_once_when_their_leases_run_out() {
    let redis = Redis::start().await;
    let one = start(presence_config(&redis, "t13:"));
    let extra = [
        "registration_ttl_ms=1500",
        "namespaces.room.track_presence=true",
        "namespaces.room.join_leave=true",
    ];
    let (_dir, doomed) = doomed_node(&redis, "t13:", &extra).await;
    eventually_ready(&one).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    alice.subscribe("room:b").await;
    let (mut carol, _) = Client::connect_url(&doomed.url, "carol", &[]).await;
    carol.subscribe("room:b").await;
    assert_eq!(alice.expect("hub:join").await["address"], "carol");
    assert_eq!(members(&mut alice, "room:b").await, ["alice", "carol"]);

    doomed.kill_9();
    // No one is left to say carol left: her lease runs out, and the node
    // that finds it ends her memberships, each announced once.
    assert_eq!(alice.expect("hub:leave").await["address"], "carol");
    assert_eq!(members(&mut alice, "room:b").await, ["alice"]);
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
async fn a_topic_s_history_is_one_for_the_whole_hub() {
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([
        history_config(&redis, "t15:"),
        history_config(&redis, "t15:"),
    ])
    .await;
    let (mut reader_two, _) = Client::connect(&two, "reader-two").await;
    let ack = reader_two
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "feed:x"}))
        .await;
    let epoch = ack["epoch"].as_str().expect("an epoch").to_owned();
    assert_eq!(ack["offset"], 0, "{ack}");
    let (mut reader_one, _) = Client::connect(&one, "reader-one").await;
    let ack = reader_one
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "feed:x"}))
        .await;
    assert_eq!(ack["epoch"], epoch.as_str(), "one epoch for the hub: {ack}");

    // Publishers on both nodes, interleaved: one numbering for the hub.
    let (mut writer_one, _) = Client::connect(&one, "writer-one").await;
    let (mut writer_two, _) = Client::connect(&two, "writer-two").await;
    let mut offsets = Vec::new();
    for i in 0..10u64 {
        let writer = if i % 2 == 0 {
            &mut writer_one
        } else {
            &mut writer_two
        };
        let ack = writer
            .request(json!({"type": "hub:publish", "id": i, "topic": "feed:x", "payload": i}))
            .await;
        assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
        offsets.push(ack["offset"].as_u64().expect("an offset"));
    }
    assert_eq!(
        offsets,
        (1..=10).collect::<Vec<_>>(),
        "numbered in the order made"
    );
    // Every node's subscribers get the same publications, same offsets,
    // same order.
    for reader in [&mut reader_one, &mut reader_two] {
        for i in 0..10u64 {
            let m = reader.expect("hub:message").await;
            assert_eq!(
                (m["payload"].as_u64(), m["offset"].as_u64()),
                (Some(i), Some(i + 1)),
                "{m}"
            );
        }
        reader.expect_nothing_pending().await;
    }

    // A reader that saw up to offset 4 on node two recovers on node one.
    drop(reader_two);
    let (mut moved, _) = Client::connect(&one, "reader-two").await;
    let (replayed, ack) = recover(&mut moved, "feed:x", &epoch, 4).await;
    assert_eq!(ack["recovered"], true, "{ack}");
    assert_eq!(ack["offset"], 10, "{ack}");
    assert_eq!(replayed, (4..10).collect::<Vec<_>>());
    // And on a node started after the publications, which has no copy.
    let three = start(history_config(&redis, "t15:"));
    eventually_ready(&three).await;
    let (mut late, _) = Client::connect(&three, "late").await;
    let (replayed, ack) = recover(&mut late, "feed:x", &epoch, 7).await;
    assert_eq!(ack["recovered"], true, "{ack}");
    assert_eq!(replayed, [7, 8, 9]);
    // Live after the replay, numbered on.
    let ack = writer_two
        .request(json!({"type": "hub:publish", "id": "n", "topic": "feed:x", "payload": 10}))
        .await;
    assert_eq!(ack["offset"], 11, "{ack}");
    let m = late.expect("hub:message").await;
    assert_eq!(
        (m["payload"].as_u64(), m["offset"].as_u64()),
        (Some(10), Some(11))
    );
    // Another epoch is not recovered (nothing is made up).
    let (replayed, ack) = recover(&mut late, "feed:y", "not-an-epoch", 3).await;
    assert_eq!(ack["recovered"], false, "{ack}");
    assert!(replayed.is_empty());
}

#[actix_rt::test]
async fn on_a_redis_cluster_topics_sends_and_addresses_work_across_nodes() {
    let cluster = common::redis::RedisCluster::start().await;
    let config = || {
        let mut config = test_config();
        config.engine = hub_server::Engine::Redis;
        config.redis_url = cluster.url();
        config.redis_prefix = "c1:".into();
        // Inboxes and histories in Redis too, each in its own slot.
        config.durability = hub_server::Durability::Memory;
        let feed = hub_core::permissions::NamespaceOptions {
            history_size: 100,
            ..Default::default()
        };
        config.hub.namespaces.insert("feed".into(), feed);
        config
    };
    let [one, two] = ready_nodes([config(), config()]).await;

    // Topics spread over the cluster's shards: each reaches the other node.
    let (mut reader, _) = Client::connect(&two, "reader").await;
    let topics: Vec<String> = (0..12).map(|i| format!("spread-{i}")).collect();
    for topic in &topics {
        reader.subscribe(topic).await;
    }
    let (mut writer, _) = Client::connect(&one, "writer").await;
    for topic in &topics {
        writer.publish(topic, json!(topic)).await;
    }
    // Order holds per topic; topics on different shards may interleave.
    let mut got: Vec<String> = Vec::new();
    for _ in &topics {
        let m = reader.expect("hub:message").await;
        assert_eq!(m["topic"], m["payload"], "{m}");
        got.push(m["topic"].as_str().expect("a topic").to_owned());
    }
    got.sort();
    let mut want = topics.clone();
    want.sort();
    assert_eq!(got, want, "each topic's publication, once");
    reader.expect_nothing_pending().await;

    // A direct send across nodes, with its outcome.
    let ack = writer
        .request(json!({"type": "hub:send", "id": 1, "to": "reader", "payload": "hi"}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(reader.expect("hub:message").await["payload"], "hi");

    // One holder per address: the newer connection on the other node wins.
    let (mut first, _) = Client::connect(&one, "alice").await;
    let (mut second, _) = Client::connect(&two, "alice").await;
    let (_, code) = first.until_close().await;
    assert_eq!(code, 4500);

    // Watches and "*" broadcasts, whose counts come back from every node.
    let ack = writer
        .request(json!({"type": "hub:watch", "id": "w", "address": "bob"}))
        .await;
    assert_eq!(ack["online"], false, "{ack}");
    let (_bob, _) = Client::connect(&two, "bob").await;
    assert_eq!(writer.expect("hub:online").await["address"], "bob");
    let ack = writer
        .request(json!({"type": "hub:broadcast", "id": "b", "to": "*", "payload": "all"}))
        .await;
    assert_eq!(ack["recipients"], 3, "reader, alice and bob: {ack}");
    for c in [&mut reader, &mut second] {
        assert_eq!(c.expect("hub:message").await["payload"], "all");
    }

    // Stored sends to recipients whose inboxes are on different shards,
    // from one node to the other: numbered per recipient, in order.
    let mut recipients = Vec::new();
    for i in 0..6 {
        let (c, _) = Client::connect_url(&two.ws_url(), &format!("inbox-{i}"), &["ack"]).await;
        recipients.push(c);
    }
    for round in 1..=2u64 {
        for i in 0..6 {
            let ack = writer
                .request(json!({"type": "hub:send", "id": i, "to": format!("inbox-{i}"), "payload": round, "msg_id": format!("m-{i}-{round}")}))
                .await;
            assert_eq!(ack["status"], "accepted", "{ack}");
        }
    }
    for c in &mut recipients {
        for round in 1..=2u64 {
            let m = c.expect("hub:message").await;
            assert_eq!(
                (m["seq"].as_u64(), m["payload"].as_u64()),
                (Some(round), Some(round))
            );
        }
    }
    // Not acknowledged: read back from each inbox's stream on the other node.
    drop(recipients);
    for i in 0..6 {
        let address = format!("inbox-{i}");
        let (mut c, _) = Client::connect_url(&one.ws_url(), &address, &["ack"]).await;
        for round in 1..=2u64 {
            let m = c.expect("hub:message").await;
            assert_eq!(
                (m["seq"].as_u64(), m["payload"].as_u64()),
                (Some(round), Some(round))
            );
        }
        c.send(json!({"type": "hub:ack", "seq": 2})).await;
        c.expect_nothing_pending().await;
    }
    // Histories of topics on different shards: one numbering for the hub,
    // recovered on the other node.
    let feeds: Vec<String> = (0..6).map(|i| format!("feed:{i}")).collect();
    let mut epochs = Vec::new();
    for feed in &feeds {
        let ack = reader
            .request(json!({"type": "hub:subscribe", "id": "s", "topic": feed}))
            .await;
        epochs.push(ack["epoch"].as_str().expect("an epoch").to_owned());
    }
    for feed in &feeds {
        for i in 0..2 {
            let ack = writer
                .request(json!({"type": "hub:publish", "id": i, "topic": feed, "payload": i}))
                .await;
            assert_eq!(ack["offset"], i + 1, "{ack}");
        }
    }
    for _ in 0..feeds.len() * 2 {
        let m = reader.expect("hub:message").await;
        assert_eq!(
            m["offset"].as_u64(),
            m["payload"].as_u64().map(|p| p + 1),
            "{m}"
        );
    }
    for (feed, epoch) in feeds.iter().zip(&epochs) {
        let (replayed, ack) = recover(&mut writer, feed, epoch, 0).await;
        assert_eq!(ack["recovered"], true, "{ack}");
        assert_eq!(replayed, [0, 1]);
    }

    // A publish's msg_id, claimed in the sender's slot: a retry through the
    // other node takes no effect again.
    let once = json!({"type": "hub:publish", "id": "o", "topic": "spread-0", "payload": "once", "msg_id": "o-1"});
    let first = writer.request(once.clone()).await;
    assert_eq!(first["type"], "hub:publish_ack", "{first}");
    assert_eq!(reader.expect("hub:message").await["payload"], "once");
    drop(writer);
    let (mut again, _) = Client::connect(&two, "writer").await;
    assert_eq!(again.request(once).await, first);
    reader.expect_nothing_pending().await;
}

/// The next number on an SDK subscription.
async fn next_number(stream: &mut hub_client::Subscription<u64>) -> u64 {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("a publication within PATIENCE")
        .expect("the stream goes on")
        .expect("a publication")
        .payload
}

#[actix_rt::test]
async fn an_sdk_client_whose_node_is_killed_mid_stream_carries_on_from_another_unseen() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let redis = Redis::start().await;
    let [one, two] = ready_nodes([node_config(&redis, "t16:"), node_config(&redis, "t16:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "t16:", &[]).await;

    // The SDK knows every node, the doomed one first.
    let sdk = hub_client::Client::builder(doomed.url.clone())
        .fallback_url(one.ws_url())
        .fallback_url(two.ws_url())
        .address("sdk")
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .expect("connects to the first node");
    let mut stream = sdk.subscribe::<u64>("stream").await.expect("subscribes");
    let (mut watcher, _) = Client::connect(&two, "watcher").await;
    let ack = watcher
        .request(json!({"type": "hub:watch", "id": "w", "address": "sdk"}))
        .await;
    assert_eq!(ack["online"], true, "{ack}");

    // A publisher on node one publishes a numbered stream, non-stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    let publishing = {
        let stop = stop.clone();
        actix_rt::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                publisher.publish("stream", json!(i)).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut last = next_number(&mut stream).await;
    for _ in 0..20 {
        let n = next_number(&mut stream).await;
        assert!(n > last, "in order, once: {n} after {last}");
        last = n;
    }

    doomed.kill_9();
    // Mid-stream: the client moves to node one and resubscribes; what was
    // published while it moved is missed (no history here), nothing comes
    // twice or out of order, and the stream goes on.
    let before = last;
    while last < before + 100 {
        let n = next_number(&mut stream).await;
        assert!(n > last, "in order, once: {n} after {last}");
        last = n;
    }
    assert_eq!(
        one.hub.metrics().connections,
        2,
        "the sdk and the publisher"
    );
    // It moved within its lease: the watcher heard nothing; its goodbye is
    // the first thing it hears.
    watcher.expect_nothing_pending().await;
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.await;
    sdk.close().await.expect("closes");
    assert_eq!(watcher.expect("hub:offline").await["address"], "sdk");
}

/// A topic with history through the SDK: its node SIGKILLed mid-stream,
/// the client resubscribes on another node from where it was, recovers what
/// was published meanwhile from the hub's one history, and the stream goes
/// on — every publication once, in order, nothing missed.
#[actix_rt::test]
async fn an_sdk_subscriber_of_a_topic_with_history_misses_nothing_across_a_node_kill() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let redis = Redis::start().await;
    let [one] = ready_nodes([history_config(&redis, "t21:")]).await;
    let (_dir, doomed) = doomed_node(&redis, "t21:", &["namespaces.feed.history_size=100"]).await;
    let sdk = hub_client::Client::builder(doomed.url.clone())
        .fallback_url(one.ws_url())
        .address("sdk")
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .connect()
        .await
        .expect("connects to the doomed node");
    let mut events = sdk.events().await;
    let mut stream = sdk.subscribe::<u64>("feed:live").await.expect("subscribes");
    let stop = Arc::new(AtomicBool::new(false));
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    let publishing = {
        let stop = stop.clone();
        actix_rt::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let ack = publisher
                    .request(
                        json!({"type": "hub:publish", "id": i, "topic": "feed:live", "payload": i}),
                    )
                    .await;
                assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Subscribed before the first publication: it gets them all.
    let first = 0;
    let mut next = first;
    let mut doomed = Some(doomed);
    while next < first + 300 {
        assert_eq!(
            next_number(&mut stream).await,
            next,
            "every publication once, in order"
        );
        next += 1;
        if next == first + 50 {
            if let Some(node) = doomed.take() {
                node.kill_9();
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = publishing.await;
    // It was resubscribed, and recovered what was published while it moved.
    let recovered = loop {
        let event = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("an event within PATIENCE")
            .expect("the client goes on");
        if let hub_client::Event::Resubscribed { topic, recovered } = event {
            assert_eq!(topic, "feed:live");
            break recovered;
        }
    };
    assert_eq!(recovered, Some(true));
    sdk.close().await.expect("closes");
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
async fn sessions_keep_their_addresses_when_redis_comes_back_empty() {
    let mut redis = Redis::start().await;
    let config = || {
        let mut config = presence_config(&redis, "t18:");
        // Renewed by traffic at most every 500 ms.
        config.hub.registration_ttl_ms = 2_000;
        config
    };
    let [one, two] = ready_nodes([config(), config()]).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    alice.subscribe("room:z").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    assert_eq!(members(&mut bob, "room:z").await, ["alice"]);

    // Redis restarts with nothing (it persists nothing here).
    redis.restart().await;
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    // Alice's traffic renews her lease: Redis holds her address again for
    // her, rather than calling it lost (which would close her session).
    for _ in 0..10 {
        let pong = alice.request(json!({"type": "hub:ping", "id": "p"})).await;
        assert_eq!(pong["type"], "hub:pong", "{pong}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let ack = bob
        .request(json!({"type": "hub:send", "id": 1, "to": "alice", "payload": "still here?"}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    assert_eq!(alice.expect("hub:message").await["payload"], "still here?");
    // Node one handed its topics' members to Redis again when it came back.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while members(&mut bob, "room:z").await != ["alice"] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alice never listed again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[actix_rt::test]
async fn a_full_redis_queue_keeps_publications_on_their_node_and_refuses_cross_node_sends() {
    let redis = Redis::start().await;
    let mut tight = node_config(&redis, "t19:");
    // Smaller than any message: nothing fits.
    tight.redis_publish_queue_bytes = 10;
    let [one, two] = ready_nodes([tight, node_config(&redis, "t19:")]).await;
    let (mut here, _) = Client::connect(&one, "here").await;
    let (mut there, _) = Client::connect(&two, "there").await;
    here.subscribe("news").await;
    there.subscribe("news").await;

    // Published on node one: its own subscribers get it, no other node does.
    let (mut publisher, _) = Client::connect(&one, "publisher").await;
    assert_eq!(publisher.publish("news", json!("stays here")).await, 1);
    assert_eq!(here.expect("hub:message").await["payload"], "stays here");
    assert_eq!(metric(&one, |m| m.broker_dropped_total), 1);
    // Node two's next publication is the next thing there hears.
    let (mut other, _) = Client::connect(&two, "other").await;
    other.publish("news", json!("fence")).await;
    assert_eq!(there.expect("hub:message").await["payload"], "fence");

    // A send to another node does not fit either: refused, temporary.
    let ack = publisher
        .request(json!({"type": "hub:send", "id": "s", "to": "there", "payload": 1}))
        .await;
    assert_eq!(
        (ack["status"].as_str(), ack["reason"].as_str()),
        (Some("rejected"), Some("unavailable")),
        "{ack}"
    );
}

/// On a node that has just started (its Redis connections still coming
/// up), a `hub:subscribe_ack` still means Redis took the subscription: a
/// publication made on another node right after it reaches the subscriber.
#[actix_rt::test]
async fn a_subscribe_on_a_node_just_started_is_acknowledged_once_redis_took_it() {
    let redis = Redis::start().await;
    let [one] = ready_nodes([history_config(&redis, "t22:")]).await;
    let (_dir, fresh) = doomed_node(&redis, "t22:", &["namespaces.feed.history_size=100"]).await;
    // At once, without waiting for the fresh node to be ready.
    let (mut reader, _) = Client::connect_url(&fresh.url, "reader", &[]).await;
    let (mut writer, _) = Client::connect(&one, "writer").await;
    for (i, topic) in ["plain", "feed:kept"].into_iter().enumerate() {
        let ack = reader
            .request(json!({"type": "hub:subscribe", "id": "s", "topic": topic}))
            .await;
        assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
        let ack = writer
            .request(json!({"type": "hub:publish", "id": i, "topic": topic, "payload": i}))
            .await;
        assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
        let m = reader.expect("hub:message").await;
        assert_eq!(m["payload"], i, "{m}");
    }
}
