//! The same on a Redis Cluster: topics, sends and addresses work across nodes.

use super::*;

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
