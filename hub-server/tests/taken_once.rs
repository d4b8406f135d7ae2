//! A stored message handed to a client without the `ack` feature is taken:
//! deleted at once, so a crash right after does not hand it over again
//! (at most once from the hand-over), and its receipt comes at once too.
//! The real binary, SIGKILLed and restarted; one test on both engines.

mod common;

use common::redis::Redis;
use common::*;
use serde_json::json;

async fn taken_messages_are_not_handed_over_again_after_kill_9(extra: &[&str]) {
    let dir = TempDir::new("taken-once");
    let port = free_port();
    let hub = Binary::start(&dir, port, extra).await;
    // bob is known, and away.
    let mut bob = Client::connect_url(&hub.url, "bob", &[]).await.0;
    bob.request(json!({"type": "hub:disconnect"})).await;
    drop(bob);
    let mut alice = Client::connect_url(&hub.url, "alice", &["ack"]).await.0;
    for i in 1..=3 {
        let ack = alice
            .request(
                json!({"type": "hub:send", "id": i, "to": "bob", "payload": i, "receipt": i == 3}),
            )
            .await;
        assert_eq!(ack["status"], "queued", "{ack}");
    }

    // bob comes back without acks and takes all three.
    let mut bob = Client::connect_url(&hub.url, "bob", &[]).await.0;
    let got: Vec<_> = take(&mut bob, 3)
        .await
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(got, vec![json!(1), json!(2), json!(3)]);
    // The receipt of the last one: its taking is recorded (a later commit
    // would have brought it only with the next send or sweep).
    let receipt = alice.expect("hub:receipt").await;
    assert_eq!(
        (receipt["id"].clone(), receipt["status"].clone()),
        (json!(3), json!("delivered"))
    );

    // Killed, restarted on the same data: bob gets nothing twice.
    hub.kill_9();
    drop((alice, bob));
    let hub = Binary::start(&dir, port, extra).await;
    let mut bob = Client::connect_url(&hub.url, "bob", &[]).await.0;
    let mut carol = Client::connect_url(&hub.url, "carol", &[]).await.0;
    let ack = carol
        .request(json!({"type": "hub:send", "id": 4, "to": "bob", "payload": "after"}))
        .await;
    // Accepted, or queued and then read back (numbers skip ahead after a crash).
    assert!(
        ack["status"] == "accepted" || ack["status"] == "queued",
        "{ack}"
    );
    let next = bob.expect("hub:message").await;
    assert_eq!(
        next["payload"], "after",
        "the first thing bob gets after the restart: {next}"
    );
    bob.expect_nothing_pending().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_message_is_not_handed_over_again_after_kill_9() {
    taken_messages_are_not_handed_over_again_after_kill_9(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_message_is_not_handed_over_again_after_kill_9_on_redis() {
    let redis = Redis::start().await;
    let url = format!("redis_url={}", redis.url());
    let settings = [
        "engine=redis",
        &url,
        "redis_prefix=to1:",
        "durability=memory",
    ];
    taken_messages_are_not_handed_over_again_after_kill_9(&settings).await;
}
