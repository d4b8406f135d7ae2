//! Stored sends through a cut in a node's link to Redis: each send caught
//! in it is stored or refused `unavailable`, and every send after it is
//! answered. (A pipeline of appends that failed as a whole was answered
//! with one error, and the node's later stored sends waited for answers
//! that never came: found by `scripts/faults.sh`.)

use super::*;
use common::redis::Link;

#[actix_rt::test]
async fn every_stored_send_is_answered_through_a_cut_link_to_redis() {
    let redis = Redis::start().await;
    let link = Link::start(redis.port, Duration::ZERO).await;
    let mut config = stored_config(&redis, "cut1:");
    config.redis_url = format!("redis://127.0.0.1:{}", link.port);
    let [node] = started([config]).await;
    let _bob = acking(&node.ws_url(), "bob").await;
    let mut alice = acking(&node.ws_url(), "alice").await;

    // Many sends in flight at once (their appends go to Redis together),
    // the link cut among them.
    for i in 0..300 {
        alice
            .send(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i}))
            .await;
        if i == 150 {
            link.cut();
        }
    }
    let mut refused = 0;
    for _ in 0..300 {
        let ack = alice.expect("hub:delivery_ack").await;
        match ack["status"].as_str() {
            Some("accepted" | "queued") => {}
            Some("rejected") => {
                assert_eq!(ack["reason"], "unavailable", "{ack}");
                refused += 1;
            }
            _ => panic!("{ack}"),
        }
    }
    assert!(
        refused > 0,
        "the cut refused nothing: it came too late to test anything"
    );

    // Back: sends are answered, and stored.
    link.restore();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let ack = alice
            .request(json!({"type": "hub:send", "id": "after", "to": "bob", "payload": "after"}))
            .await;
        assert_eq!(ack["type"], "hub:delivery_ack", "{ack}");
        if ack["status"] != "rejected" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never stored again: {ack}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
