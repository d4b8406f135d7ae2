//! Topics across nodes: publications reach every node once and in order, subscribes are acknowledged once Redis took them, a node holds a topic's channel only while it has subscribers, one history for the hub, a full Redis queue.

use super::*;

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
