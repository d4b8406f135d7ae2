//! Redis behind Sentinel (`redis-sentinel://`): nodes find the primary
//! through the sentinel and follow it when it fails over to the replica.
//! Subscriptions made before the failover keep receiving, and addresses
//! claimed after it are held on the new primary.

use super::*;
use common::sentinel::Sentinels;

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
