//! Server-side subscriptions: a token's `channels` claim subscribes the
//! session at connect, and `POST /api/subscribe` / `POST /api/unsubscribe`
//! subscribe or end a topic for every connection of a user on every node —
//! the client hears `hub:subscribed` / `hub:unsubscribed` (`server`), and
//! its own rights are not asked. On every engine.

mod common;

use common::engines::{Engine, Kind};
use common::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";
const KEY: &str = "backend-key-0123456789abcdef";

fn config(engine: &Engine) -> hub_server::ServerConfig {
    use hub_server::api::keys::{ApiKeyConfig, Scope};
    let mut config = engine.config();
    config.jwt_hmac_secret = SECRET.into();
    config.api_keys = vec![ApiKeyConfig {
        name: "backend".into(),
        key: KEY.into(),
        scopes: vec![Scope::Disconnect, Scope::Publish],
    }];
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    config
}

/// A session of `user` as `device`, its token granting nothing, with
/// `channels`.
async fn connect(url: &str, user: &str, device: &str, channels: Value) -> Client {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": user, "exp": exp, "channels": channels});
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let token = encode(&Header::default(), &claims, &key).unwrap();
    let mut c = Client::open_url(url).await;
    let answer = c
        .request(
            json!({"type": "hub:connect", "id": 1, "address": user, "device": device,
            "token": token}),
        )
        .await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

async fn post(node: &hub_server::SpawnedServer, path: &str, body: Value) -> (u16, Value) {
    let answer = http(node, "POST", path, Some(KEY), Some(&body.to_string())).await;
    (answer.status, answer.json())
}

async fn the_server_subscribes_a_users_connections_and_ends_it(engine: Engine) {
    let shared = matches!(engine.kind, Kind::Redis | Kind::RedisCluster);
    let mut nodes = vec![engine.start(config(&engine)).await];
    if shared {
        nodes.push(engine.start(config(&engine)).await);
    }
    let url = |i: usize| nodes[i % nodes.len()].ws_url();

    // The token's channels: subscribed at connect, no right needed.
    let mut phone = connect(&url(0), "alice", "phone", json!(["room:lobby"])).await;
    let subscribed = phone.expect("hub:subscribed").await;
    assert_eq!(subscribed["topic"], "room:lobby", "{subscribed}");
    let mut laptop = connect(&url(1), "alice", "laptop", json!([])).await;
    let refused = laptop
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:42"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "its own rights: {refused}");

    // The API: every connection of the user, on every node.
    let (status, answer) = post(
        &nodes[0],
        "/api/subscribe",
        json!({"user": "alice", "topic": "room:42"}),
    )
    .await;
    assert_eq!((status, &answer["sessions"]), (200, &json!(2)), "{answer}");
    for c in [&mut phone, &mut laptop] {
        assert_eq!(c.expect("hub:subscribed").await["topic"], "room:42");
    }
    let (status, _) = post(
        &nodes[0],
        "/api/publish",
        json!({"topic": "room:42", "payload": "hi"}),
    )
    .await;
    assert_eq!(status, 200);
    for c in [&mut phone, &mut laptop] {
        let m = c.expect("hub:message").await;
        assert_eq!(
            (&m["topic"], &m["payload"]),
            (&json!("room:42"), &json!("hi"))
        );
    }

    let (status, answer) = post(
        &nodes[0],
        "/api/unsubscribe",
        json!({"user": "alice", "topic": "room:42"}),
    )
    .await;
    assert_eq!((status, &answer["sessions"]), (200, &json!(2)), "{answer}");
    for c in [&mut phone, &mut laptop] {
        let ended = c.expect("hub:unsubscribed").await;
        assert_eq!(
            (&ended["topic"], &ended["reason"]),
            (&json!("room:42"), &json!("server"))
        );
    }
    post(
        &nodes[0],
        "/api/publish",
        json!({"topic": "room:42", "payload": "gone"}),
    )
    .await;
    post(
        &nodes[0],
        "/api/publish",
        json!({"topic": "room:lobby", "payload": "lobby"}),
    )
    .await;
    // Only the lobby's publication comes, and only to the phone.
    assert_eq!(phone.expect("hub:message").await["payload"], "lobby");
    phone.expect_nothing_pending().await;
    laptop.expect_nothing_pending().await;

    // Bad input, by field.
    for (body, code) in [
        (
            json!({"user": "alice", "topic": "nowhere:1"}),
            "unknown_namespace",
        ),
        (json!({"user": "", "topic": "room:1"}), "invalid_field"),
        (json!({"user": "alice"}), "missing_field"),
    ] {
        let (status, answer) = post(&nodes[0], "/api/subscribe", body.clone()).await;
        assert_eq!(
            (status, &answer["code"]),
            (400, &json!(code)),
            "{body}: {answer}"
        );
    }
}

on_every_engine!(the_server_subscribes_a_users_connections_and_ends_it);
