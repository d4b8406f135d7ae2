//! Revocation: `POST /api/revoke` of one token (its `jti`) or of a user
//! closes the sessions holding it with `revoked` (4503) on every node, and
//! refuses a connect with it until the revocation ends; a node that starts
//! later (Redis engine) refuses it too. On every engine.

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
        scopes: vec![Scope::Disconnect],
    }];
    config
}

fn token(sub: &str, jti: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": sub, "exp": exp, "jti": jti});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// `hub:connect` of `user` (as `device`, if any) with the token `jti`.
async fn connect(url: &str, user: &str, device: Option<&str>, jti: &str) -> (Client, Value) {
    let mut c = Client::open_url(url).await;
    let answer = c
        .request(
            json!({"type": "hub:connect", "id": 1, "address": user, "device": device,
            "token": token(user, jti)}),
        )
        .await;
    (c, answer)
}

async fn revoke(node: &hub_server::SpawnedServer, body: Value) -> (u16, Value) {
    let answer = http(
        node,
        "POST",
        "/api/revoke",
        Some(KEY),
        Some(&body.to_string()),
    )
    .await;
    (answer.status, answer.json())
}

/// Reads to the close; its code and the `hub:disconnect` reason before it.
async fn closed(mut c: Client) -> (u16, Value) {
    let (frames, code) = c.until_close().await;
    let reason = frames
        .iter()
        .find(|f| f["type"] == "hub:disconnect")
        .map_or(Value::Null, |f| f["reason"].clone());
    (code, reason)
}

async fn a_revoked_token_or_user_is_closed_everywhere_and_kept_out(engine: Engine) {
    let shared = matches!(engine.kind, Kind::Redis | Kind::RedisCluster);
    let mut nodes = vec![engine.start(config(&engine)).await];
    if shared {
        nodes.push(engine.start(config(&engine)).await);
    }
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    let (phone, answer) = connect(&url(0), "alice", Some("phone"), "a-1").await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    let (laptop, _) = connect(&url(1), "alice", Some("laptop"), "a-2").await;
    let (bob, _) = connect(&url(1), "bob", None, "b-1").await;
    let (mut carol, _) = connect(&url(0), "carol", None, "c-1").await;

    // One token: its session alone, wherever it is.
    let (status, answer) = revoke(&nodes[0], json!({"jti": "b-1", "ttl_ms": 60_000})).await;
    assert_eq!((status, &answer["closed"]), (200, &json!(1)), "{answer}");
    assert_eq!(closed(bob).await, (4503, json!("revoked")));
    let (_, again) = connect(&url(0), "bob", None, "b-1").await;
    assert_eq!(again["code"], "unauthorized", "{again}");
    assert!(
        again["message"].as_str().unwrap().contains("revoked"),
        "{again}"
    );
    let (_, fresh) = connect(&url(1), "bob", None, "b-2").await;
    assert_eq!(
        fresh["type"], "hub:connected",
        "another token of bob: {fresh}"
    );

    // A user: every device of it, on every node; any token of it is refused.
    let (status, answer) = revoke(&nodes[0], json!({"user": "alice", "ttl_ms": 60_000})).await;
    assert_eq!((status, &answer["closed"]), (200, &json!(2)), "{answer}");
    assert_eq!(closed(phone).await, (4503, json!("revoked")));
    assert_eq!(closed(laptop).await, (4503, json!("revoked")));
    let (_, again) = connect(&url(1), "alice", Some("tablet"), "a-9").await;
    assert_eq!(again["code"], "unauthorized", "{again}");
    carol.expect_nothing_pending().await;

    // A node that starts now knows both.
    if shared {
        let late = engine.start(config(&engine)).await;
        let url = late.ws_url();
        let refused = eventually_refused(&url, "alice", "a-10").await;
        assert_eq!(refused["code"], "unauthorized", "{refused}");
        let (_, answer) = connect(&url, "bob", None, "b-1").await;
        assert_eq!(answer["code"], "unauthorized", "{answer}");
    }
}

/// A node reads the hub's revocations as it starts: a connect right after
/// may come before it has them.
async fn eventually_refused(url: &str, user: &str, jti: &str) -> Value {
    for _ in 0..50 {
        let (_, answer) = connect(url, user, None, jti).await;
        if answer["type"] == "hub:error" {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{user} was never refused on the late node");
}

async fn bad_revocations_are_refused_by_field_and_the_list_is_bounded(engine: Engine) {
    let mut config = config(&engine);
    config.hub.max_revocations = 1;
    let node = engine.start(config).await;
    for (body, says) in [
        (json!({"user": "a", "jti": "b", "ttl_ms": 1000}), "`user`"),
        (json!({"ttl_ms": 1000}), "`jti`"),
        (json!({"user": "a"}), "ttl_ms"),
        (json!({"user": "a", "ttl_ms": 0}), "ttl_ms"),
        (json!({"user": "a", "until_ms": 5}), "until_ms"),
        (json!({"user": "", "ttl_ms": 1000}), "user"),
    ] {
        let (status, answer) = revoke(&node, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], "invalid_field", "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{says}: {answer}"
        );
    }
    let (status, _) = revoke(&node, json!({"user": "a", "ttl_ms": 60_000})).await;
    assert_eq!(status, 200);
    // The same again extends it; another is one too many.
    let (status, _) = revoke(&node, json!({"user": "a", "ttl_ms": 90_000})).await;
    assert_eq!(status, 200);
    let (status, answer) = revoke(&node, json!({"jti": "x", "ttl_ms": 60_000})).await;
    assert_eq!(
        (status, &answer["code"]),
        (429, &json!("revocations_full")),
        "{answer}"
    );
    let unkeyed = http(&node, "POST", "/api/revoke", None, Some("{}")).await;
    assert_eq!(unkeyed.status, 401, "{}", unkeyed.body);
}

on_every_engine!(
    a_revoked_token_or_user_is_closed_everywhere_and_kept_out,
    bad_revocations_are_refused_by_field_and_the_list_is_bounded,
);
