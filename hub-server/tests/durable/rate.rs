//! A retried send is spared the rate limit once, on one node and with Redis.

use super::*;

/// A retry of a remembered send is not charged to the rate limit — once
/// per id and session, so replaying one id is no way around the limit.
/// One test, both engines (on Redis: a retry through the node that took it).
async fn a_retry_is_spared_the_rate_limit_once(mut config: ServerConfig) {
    config.durability = Durability::Memory;
    config.hub.rate_limit_per_sec = 1;
    config.hub.rate_limit_burst = 2;
    let server = start(config);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while http(&server, "GET", "/ready", None, None).await.status != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    known_and_away(&server, "bob").await;
    // hub:connect takes one frame of the burst, the send the other.
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let send = json!({"type": "hub:send", "id": 1, "to": "bob", "payload": 1, "msg_id": "m-1"});
    assert_eq!(alice.request(send.clone()).await["status"], "queued");
    let fresh = json!({"type": "hub:send", "id": 2, "to": "bob", "payload": 2, "msg_id": "m-2"});
    assert_eq!(
        alice.request(fresh).await["type"],
        "hub:rate_limited",
        "the burst is spent"
    );
    let retry = alice.request(send.clone()).await;
    assert_eq!(
        retry["type"], "hub:delivery_ack",
        "a retry goes through: {retry}"
    );
    assert_eq!(retry["status"], "queued");
    let again = alice.request(send).await;
    assert_eq!(
        again["type"], "hub:rate_limited",
        "the second retry is charged: {again}"
    );
}

#[tokio::test]
async fn a_retry_is_not_charged_to_the_rate_limit_once() {
    a_retry_is_spared_the_rate_limit_once(test_config()).await;
}

#[tokio::test]
async fn a_retry_is_not_charged_to_the_rate_limit_once_on_redis() {
    let redis = common::redis::Redis::start().await;
    a_retry_is_spared_the_rate_limit_once(common::redis::node_config(&redis, "rl1:")).await;
}
