//! Subscription tokens: `hub:subscribe` with a `token` joins a topic the
//! connection's grants do not open (a private room granted by the app at
//! the moment of joining), with the rights the token lists, refreshed in
//! band (`hub:sub_refresh`) or lost at its expiry (`hub:unsubscribed`).

use super::*;

/// A server whose `room` namespace is open only to what is granted.
fn room_server() -> hub_server::SpawnedServer {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.jwt_leeway_ms = 0;
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    start(config)
}

/// A connection token for `sub`, with `grants`.
fn connection(sub: &str, grants: Value) -> String {
    hs(
        &json!({"sub": sub, "exp": now() + 600, "grants": grants}),
        Algorithm::HS256,
    )
}

/// A subscription token for `sub` on `topic`, valid `secs`, with `rights`.
fn for_topic(sub: &str, topic: &str, secs: u64, rights: Value) -> String {
    hs(
        &json!({"sub": sub, "topic": topic, "exp": now() + secs, "rights": rights}),
        Algorithm::HS256,
    )
}

async fn connected(server: &hub_server::SpawnedServer, user: &str, grants: Value) -> Client {
    let mut c = Client::open(server).await;
    let answer = c
        .request(
            json!({"type": "hub:connect", "id": 1, "address": user, "device": "tab",
            "token": connection(user, grants)}),
        )
        .await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

/// A publisher with the right to publish in every room.
async fn publisher(server: &hub_server::SpawnedServer) -> Client {
    connected(server, "app", json!({"topics": {"room:*": ["publish"]}})).await
}

#[tokio::test]
async fn a_subscription_token_opens_one_topic_with_the_rights_it_lists() {
    let server = room_server();
    let mut app = publisher(&server).await;
    let mut alice = connected(&server, "alice", json!({})).await;

    let refused = alice
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:42"}))
        .await;
    assert_eq!(
        refused["code"], "forbidden",
        "no grant, no token: {refused}"
    );

    let token = for_topic("alice", "room:42", 600, json!(["publish"]));
    let ack = alice
        .request(json!({"type": "hub:subscribe", "id": 3, "topic": "room:42", "token": token}))
        .await;
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    app.publish("room:42", json!("hello")).await;
    let m = alice.expect("hub:message").await;
    assert_eq!(
        (&m["topic"], &m["payload"]),
        (&json!("room:42"), &json!("hello"))
    );
    // The token's rights: publish here, nothing in another room.
    // (Its own publication comes back to it, before or after the ack.)
    alice
        .send(json!({"type": "hub:publish", "id": 4, "topic": "room:42", "payload": 1}))
        .await;
    let mut kinds = [alice.next_frame().await, alice.next_frame().await]
        .map(|f| f["type"].as_str().unwrap_or_default().to_owned());
    kinds.sort();
    assert_eq!(kinds, ["hub:message", "hub:publish_ack"]);
    let refused = alice
        .request(json!({"type": "hub:publish", "id": 5, "topic": "room:7", "payload": 1}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // Without `presence` in the token, no presence of the room.
    let refused = alice
        .request(json!({"type": "hub:presence_stats", "id": 6, "topic": "room:42"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // Unsubscribed, its rights go with it.
    alice
        .request(json!({"type": "hub:unsubscribe", "id": 7, "topic": "room:42"}))
        .await;
    let refused = alice
        .request(json!({"type": "hub:publish", "id": 8, "topic": "room:42", "payload": 1}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
}

#[tokio::test]
async fn bad_subscription_tokens_are_refused_each_with_its_reason() {
    let server = room_server();
    let mut alice = connected(&server, "alice", json!({})).await;
    let expired = hs(
        &json!({"sub": "alice", "topic": "room:1", "exp": now() - 10}),
        Algorithm::HS256,
    );
    for (token, says) in [
        (for_topic("alice", "room:2", 600, json!([])), "\"room:2\""),
        (for_topic("bob", "room:1", 600, json!([])), "subject"),
        (connection("alice", json!({})), "topic claim"),
        (for_topic("alice", "room:1", 600, json!(["send"])), "rights"),
        (expired, "expired"),
        ("not-a-token".to_owned(), "not a JWT"),
    ] {
        let refused = alice
            .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:1", "token": token}))
            .await;
        assert_eq!(refused["code"], "unauthorized", "{refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains(says), "`{says}` in {message}");
        assert!(message.contains("room:1"), "the topic in {message}");
    }
    // A subscription token cannot connect.
    let answer = connect_with(
        &server,
        "alice",
        Some(&for_topic("alice", "room:1", 600, json!([]))),
    )
    .await;
    assert_refused(&answer, "subscription token");
    // Nothing of it stuck: the session is served, in no room.
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn a_subscription_token_is_refreshed_in_band_or_its_topic_is_lost() {
    let server = room_server();
    let mut app = publisher(&server).await;
    let mut alice = connected(&server, "alice", json!({})).await;

    let token = for_topic("alice", "room:1", 5, json!([]));
    let ack = alice
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:1", "token": token}))
        .await;
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    let asked = alice.next_frame().await;
    assert_eq!(
        (&asked["type"], &asked["topic"]),
        (&json!("hub:sub_refresh"), &json!("room:1")),
        "asked ahead of expiry: {asked}"
    );
    let wrong = for_topic("alice", "room:2", 60, json!([]));
    let refused = alice
        .request(json!({"type": "hub:sub_refresh", "id": 3, "topic": "room:1", "token": wrong}))
        .await;
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    let fresh = for_topic("alice", "room:1", 60, json!([]));
    let ack = alice
        .request(json!({"type": "hub:sub_refresh", "id": 4, "topic": "room:1", "token": fresh}))
        .await;
    assert_eq!(
        (&ack["type"], &ack["id"], &ack["topic"]),
        (&json!("hub:sub_refresh_ack"), &json!(4), &json!("room:1"))
    );
    // Past the first token's expiry alice is still in the room.
    tokio::time::sleep(std::time::Duration::from_millis(5_500)).await;
    app.publish("room:1", json!("still")).await;
    assert_eq!(alice.expect("hub:message").await["payload"], "still");

    // A token not refreshed: the topic is lost, with a frame saying so.
    let short = for_topic("alice", "room:2", 3, json!([]));
    alice
        .request(json!({"type": "hub:subscribe", "id": 5, "topic": "room:2", "token": short}))
        .await;
    loop {
        let f = alice.next_frame().await;
        if f["type"] == "hub:unsubscribed" {
            assert_eq!(
                (&f["topic"], &f["reason"]),
                (&json!("room:2"), &json!("token_expired"))
            );
            break;
        }
        assert_eq!(f["type"], "hub:sub_refresh", "{f}");
    }
    assert_eq!(
        app.publish("room:2", json!("gone")).await,
        0,
        "no subscriber"
    );
    let refused = alice
        .request(json!({"type": "hub:sub_refresh", "id": 6, "topic": "room:2", "token": "x"}))
        .await;
    assert_eq!(refused["code"], "not_subscribed", "{refused}");
    alice.expect_nothing_pending().await;
}
