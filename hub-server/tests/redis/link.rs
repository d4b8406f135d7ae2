//! A node's link to Redis: without it a node serves its own sessions and says why it is not ready; when Redis comes back (even empty) sessions keep their addresses and watchers hear what they missed.

use super::*;

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
