//! A recovery is one or says it is not: a node cut off from Redis cannot
//! know what the hub published meanwhile, so it answers `recovered: false`
//! instead of replaying from its own copy; once back, the same recovery
//! comes from Redis, whole.

mod common;

use common::redis::{eventually_ready, history_config, ready, ready_nodes, recover, Link, Redis};
use common::*;
use serde_json::json;

#[actix_rt::test]
async fn a_node_cut_off_from_redis_never_answers_a_recovery_from_its_own_copy() {
    let redis = Redis::start().await;
    let link = Link::start(redis.port, std::time::Duration::ZERO).await;
    let mut cut_config = history_config(&redis, "rr1:");
    cut_config.redis_url = format!("redis://127.0.0.1:{}", link.port);
    let [a, b] = ready_nodes([cut_config, history_config(&redis, "rr1:")]).await;

    // A subscriber on A sees offset 1, published on B.
    let (mut watcher, _) = Client::connect(&a, "watcher").await;
    let ack = watcher
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "feed:x"}))
        .await;
    let epoch = ack["epoch"].as_str().expect("an epoch").to_owned();
    let (mut writer, _) = Client::connect(&b, "writer").await;
    let publish = |n: u64| json!({"type": "hub:publish", "id": n, "topic": "feed:x", "payload": n});
    writer.send(publish(1)).await;
    assert_eq!(writer.expect("hub:publish_ack").await["offset"], 1);
    assert_eq!(watcher.expect("hub:message").await["offset"], 1);

    // Two more of A's clients, to recover while A is cut off (A takes no
    // new connects then).
    let (mut late_one, _) = Client::connect(&a, "late-one").await;
    let (mut late_zero, _) = Client::connect(&a, "late-zero").await;

    // A loses Redis; B publishes 2 and 3, which A cannot hear.
    link.cut();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while ready(&a).await.0 == 200 {
        assert!(tokio::time::Instant::now() < deadline, "A still ready");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for n in 2..=3 {
        writer.send(publish(n)).await;
        let ack = writer.expect("hub:publish_ack").await;
        assert_eq!(ack["offset"], n, "{ack}");
    }

    // A recovery on A, from where A's copy ends and from before: neither
    // is answered from the copy (it would say "nothing missed").
    for (late, since) in [(&mut late_one, 1), (&mut late_zero, 0)] {
        let (replayed, ack) = recover(late, "feed:x", &epoch, since).await;
        assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
        assert_eq!(
            (ack["recovered"].clone(), replayed.len()),
            (json!(false), 0),
            "since {since}: recovered false, nothing replayed, while cut off: {ack}"
        );
    }

    // Back: the same recovery on A comes from Redis, whole and in order.
    link.restore();
    eventually_ready(&a).await;
    let (mut back, _) = Client::connect(&a, "back").await;
    let (replayed, ack) = recover(&mut back, "feed:x", &epoch, 1).await;
    assert_eq!(
        (replayed, ack["recovered"].clone()),
        (vec![2, 3], json!(true)),
        "{ack}"
    );
    // And the next publication follows on, once.
    writer.send(publish(4)).await;
    let next = back.expect("hub:message").await;
    assert_eq!(
        (next["offset"].clone(), next["payload"].clone()),
        (json!(4), json!(4))
    );
    back.expect_nothing_pending().await;
    // A's way to Redis runs on this runtime: stop A off it, or A's goodbyes
    // to Redis wait for a proxy that cannot run.
    drop((back, late_zero, late_one, watcher));
    tokio::task::spawn_blocking(move || drop(a)).await.unwrap();
}
