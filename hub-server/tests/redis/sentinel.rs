//! Redis behind Sentinel (`redis-sentinel://`): nodes find the primary
//! through the sentinel and follow it when it fails over to the replica.
//! Subscriptions made before the failover keep receiving, and addresses
//! claimed after it are held on the new primary.

use super::*;
use common::sentinel::{Sentinels, SERVICE};

fn sentinel_node(sentinels: &Sentinels, prefix: &str) -> hub_server::ServerConfig {
    let mut config = node_config(&sentinels.primary, prefix);
    config.redis_url = sentinels.url();
    config
}

#[actix_rt::test]
async fn nodes_follow_a_failover_to_the_replica() {
    let sentinels = Sentinels::start().await;
    let [one, two] = ready_nodes([
        sentinel_node(&sentinels, "st1:"),
        sentinel_node(&sentinels, "st1:"),
    ])
    .await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    let (mut bob, _) = Client::connect(&two, "bob").await;
    alice.subscribe("room").await;
    bob.publish("room", json!("before")).await;
    assert_eq!(alice.expect("hub:message").await["payload"], "before");
    assert_eq!(sentinels.primary.shard_subscribers("st1:t:room"), 1);

    sentinels.fail_over().await;

    // Each node subscribes again on the new primary: node one to the topic
    // alice was subscribed to before, both to their own node's channel
    // (where sends and their outcomes reach them); both are ready then.
    let new_primary = &sentinels.replica;
    eventually("node one never subscribed on the new primary", || {
        new_primary.shard_subscribers("st1:t:room") == 1
    })
    .await;
    eventually("the nodes never listened on the new primary", || {
        let channels = new_primary.cli(&["PUBSUB", "SHARDCHANNELS", "{st1:dir}n:*"]);
        channels.lines().count() == 2
    })
    .await;
    eventually_ready(&one).await;
    eventually_ready(&two).await;
    // Publications flow again between the nodes. (One made while a node's
    // connection is still being replaced may be lost: pub/sub keeps
    // nothing, as when Redis is away; so until one arrives, again.)
    let deadline = tokio::time::Instant::now() + 3 * PATIENCE;
    let mut n = 0;
    loop {
        n += 1;
        bob.publish("room", json!(format!("after-{n}"))).await;
        if let Some(m) = alice
            .frame_within(std::time::Duration::from_millis(500))
            .await
        {
            assert_eq!(m["type"], "hub:message", "{m}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no publication crossed after the failover"
        );
    }
    // And from then on each does, in order.
    bob.publish("room", json!("after")).await;
    loop {
        let m = alice.expect("hub:message").await;
        if m["payload"] == "after" {
            break;
        }
    }

    // A session that connects now is held on the new primary: a send from
    // the other node finds it there.
    let (mut carol, _) = Client::connect(&one, "carol").await;
    let ack = bob
        .request(json!({"type": "hub:send", "id": "s", "to": "carol", "payload": 3}))
        .await;
    assert_eq!(ack["status"], "accepted", "{ack}");
    let m = carol.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_u64()),
        (Some("bob"), Some(3))
    );
    let held = new_primary.cli(&["--scan", "--pattern", "*a:carol"]);
    assert!(
        !held.is_empty(),
        "carol's holding is not on the new primary"
    );
    // Nothing was delivered twice.
    alice.expect_nothing_pending().await;
    carol.expect_nothing_pending().await;
}

/// After a failover the old primary may stay up as a primary for seconds,
/// until the sentinels make it a replica and it drops what it took
/// meanwhile. A node connects to the new primary as soon as a sentinel
/// announces it: a message stored right after the switch, while the old
/// primary still takes writes, is still there once the old primary has
/// been made a replica.
#[actix_rt::test]
async fn a_message_stored_right_after_a_failover_survives_the_old_primary_being_demoted() {
    let sentinels = Sentinels::start().await;
    let mut config = sentinel_node(&sentinels, "st2:");
    config.durability = hub_server::Durability::Memory;
    let [one] = ready_nodes([config]).await;
    let (mut alice, _) = Client::connect(&one, "alice").await;
    // bob's inbox is known: he was connected once.
    let (mut bob, _) = Client::connect(&one, "bob").await;
    bob.send(json!({"type": "hub:disconnect"})).await;
    bob.until_close().await;

    // The switch, without waiting for the old primary to be demoted.
    eventually("the sentinel never began the failover", || {
        sentinels.cli(&["SENTINEL", "FAILOVER", SERVICE]) == "OK"
    })
    .await;
    eventually("the sentinel never named the replica", || {
        sentinels.primary_port() == Some(sentinels.replica.port)
    })
    .await;
    // (The sentinels make the old primary a replica about ten seconds
    // later: their next look at it. Until then it takes writes.) The node
    // has moved to the new primary once it listens there.
    eventually("the node never moved to the new primary", || {
        let channels = sentinels
            .replica
            .cli(&["PUBSUB", "SHARDCHANNELS", "{st2:dir}n:*"]);
        channels.lines().count() == 1
    })
    .await;
    assert!(
        sentinels.primary.cli(&["ROLE"]).starts_with("master"),
        "the old primary was made a replica at once: nothing to prove"
    );
    let deadline = tokio::time::Instant::now() + 3 * PATIENCE;
    let ack = loop {
        let ack = alice
            .request(json!({"type": "hub:send", "id": "s", "to": "bob", "payload": "kept", "msg_id": "m1"}))
            .await;
        if ack["status"] == "queued" {
            break ack;
        }
        // Refused while the node's connection is being replaced: again.
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stored: {ack}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(ack["status"], "queued", "{ack}");
    let deadline = tokio::time::Instant::now() + 4 * PATIENCE;
    while !(sentinels.primary.cli(&["ROLE"]).starts_with("slave")
        && sentinels
            .primary
            .cli(&["INFO", "replication"])
            .contains("master_link_status:up"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old primary never became a replica"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (mut bob, _) = Client::connect(&one, "bob").await;
    let m = bob.expect("hub:message").await;
    assert_eq!(m["payload"], "kept", "{m}");
}
