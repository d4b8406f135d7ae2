//! Permissions over a real socket: namespaces with per-right policies, grants
//! in the token, and a `forbidden` answer naming the missing right, after
//! which the session goes on.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::*;
use hub_core::permissions::{DirectOptions, NamespaceOptions, Policy};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "permissions-test-secret-long-enough";

fn token(sub: &str, grants: Value) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let mut claims = json!({"sub": sub, "exp": exp});
    if !grants.is_null() {
        claims["grants"] = grants;
    }
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// `news`: anyone reads, nobody publishes; `chat`: granted, small payloads,
/// three subscribers per topic; broadcasts: granted.
fn server() -> hub_server::SpawnedServer {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    let news = NamespaceOptions {
        subscribe: Policy::Everyone,
        publish: Policy::Nobody,
        ..NamespaceOptions::default()
    };
    let chat = NamespaceOptions {
        max_payload_bytes: 64,
        max_subscribers: 2,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("news".into(), news);
    config.hub.namespaces.insert("chat".into(), chat);
    start(config)
}

async fn connect(server: &hub_server::SpawnedServer, sub: &str, grants: Value) -> Client {
    let mut c = Client::open(server).await;
    let frame =
        json!({"type": "hub:connect", "id": 0, "address": sub, "token": token(sub, grants)});
    let answer = c.request(frame).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

/// Asserts a `forbidden` answer to request `id` whose hint names `right`
/// and `target`, then that the session still answers.
async fn assert_forbidden(c: &mut Client, answer: &Value, id: &str, right: &str, target: &str) {
    assert_eq!(answer["type"], "hub:error", "{answer}");
    assert_eq!(answer["code"], "forbidden", "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    assert_eq!(answer["temporary"], false, "{answer}");
    let hint = answer["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("`{right}`")),
        "the hint names the right `{right}`: {hint}"
    );
    assert!(hint.contains(target), "the hint names {target}: {hint}");
    c.expect_nothing_pending().await;
}

#[tokio::test]
async fn topic_rights_come_from_grants_and_namespace_policies() {
    let server = server();
    let grants = json!({"topics": {"chat:*": ["subscribe", "publish"], "lobby": ["subscribe"]}});
    let mut alice = connect(&server, "alice", grants).await;
    let mut nobody = connect(&server, "nobody", Value::Null).await;

    // Granted: chat:* both ways, lobby to read.
    alice.subscribe("chat:room").await;
    alice.subscribe("lobby").await;
    alice
        .send(json!({"type": "hub:publish", "id": "p0", "topic": "chat:room", "payload": "hi"}))
        .await;
    // Her own subscription's copy comes before the ack.
    assert_eq!(alice.expect("hub:message").await["payload"], "hi");
    assert_eq!(alice.expect("hub:publish_ack").await["recipients"], 1);

    // Not granted: publish to lobby (default namespace), anything for a token without grants.
    let answer = alice
        .request(json!({"type": "hub:publish", "id": "p1", "topic": "lobby", "payload": 1}))
        .await;
    assert_forbidden(&mut alice, &answer, "p1", "publish", "`lobby`").await;
    let answer = nobody
        .request(json!({"type": "hub:subscribe", "id": "s1", "topic": "chat:room"}))
        .await;
    assert_forbidden(&mut nobody, &answer, "s1", "subscribe", "`chat:room`").await;
    let answer = nobody
        .request(json!({"type": "hub:publish", "id": "p2", "topic": "chat:room", "payload": 2}))
        .await;
    assert_forbidden(&mut nobody, &answer, "p2", "publish", "`chat:room`").await;

    // news: everyone reads, even without grants; nobody publishes, even with them.
    nobody.subscribe("news:today").await;
    let all = json!({"topics": {"*": ["subscribe", "publish"]}});
    let mut editor = connect(&server, "editor", all).await;
    let answer = editor
        .request(json!({"type": "hub:publish", "id": "p3", "topic": "news:today", "payload": 3}))
        .await;
    assert_forbidden(&mut editor, &answer, "p3", "publish", "no client").await;
    assert!(
        answer["hint"].as_str().unwrap().contains("`news:today`"),
        "a policy's refusal names the topic too: {answer}"
    );

    // The denied publishes delivered nothing.
    alice.expect_nothing_pending().await;
    nobody.expect_nothing_pending().await;
}

#[tokio::test]
async fn an_unknown_namespace_is_refused_by_name() {
    let server = server();
    let all = json!({"topics": {"*": ["subscribe", "publish"]}});
    let mut c = connect(&server, "carol", all).await;
    let answer = c
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "chta:room"}))
        .await;
    assert_eq!(answer["code"], "unknown_namespace", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("`chta`"),
        "{answer}"
    );
    assert!(
        answer["hint"]
            .as_str()
            .unwrap()
            .contains("[namespaces.chta]"),
        "{answer}"
    );
    c.expect_nothing_pending().await;
}

#[tokio::test]
async fn namespace_limits_hold() {
    let server = server();
    let grants = json!({"topics": {"chat:*": ["subscribe", "publish"]}});
    let mut a = connect(&server, "a", grants.clone()).await;
    let mut b = connect(&server, "b", grants.clone()).await;
    let mut c = connect(&server, "c", grants).await;
    a.subscribe("chat:small").await;
    b.subscribe("chat:small").await;
    let answer = c
        .request(json!({"type": "hub:subscribe", "id": "s", "topic": "chat:small"}))
        .await;
    assert_eq!(
        answer["code"], "topic_full",
        "the namespace's cap of 2: {answer}"
    );

    let big = "x".repeat(100);
    let answer = a
        .request(json!({"type": "hub:publish", "id": "big", "topic": "chat:small", "payload": big}))
        .await;
    assert_eq!(answer["code"], "message_too_large", "{answer}");
    assert_eq!(answer["id"], "big");
    a.expect_nothing_pending().await;
    b.expect_nothing_pending().await;
    // b is subscribed too: its own copy comes first, then the ack.
    b.send(json!({"type": "hub:publish", "id": "ok", "topic": "chat:small", "payload": "small"}))
        .await;
    assert_eq!(b.expect("hub:message").await["payload"], "small");
    assert_eq!(b.expect("hub:publish_ack").await["recipients"], 2);
    assert_eq!(a.expect("hub:message").await["payload"], "small");
}

#[tokio::test]
async fn direct_sends_and_broadcasts_need_their_rights() {
    let server = server();
    let grants = json!({"addresses": {"bot-*": ["send"], "bob": ["broadcast"]}});
    let mut alice = connect(&server, "alice", grants).await;
    let mut bob = connect(&server, "bob", Value::Null).await;
    let mut bot = connect(&server, "bot-1", Value::Null).await;

    let answer = alice
        .request(json!({"type": "hub:send", "id": "d1", "to": "bot-1", "payload": "ok"}))
        .await;
    assert_eq!(answer["type"], "hub:delivery_ack", "{answer}");
    assert_eq!(answer["status"], "accepted");
    assert_eq!(bot.expect("hub:message").await["payload"], "ok");

    let answer = alice
        .request(json!({"type": "hub:send", "id": "d2", "to": "bob", "payload": "no"}))
        .await;
    assert_forbidden(&mut alice, &answer, "d2", "send", "`bob`").await;
    // bob may not send at all: his token grants nothing.
    let answer = bob
        .request(json!({"type": "hub:send", "id": "d3", "to": "alice", "payload": "no"}))
        .await;
    assert_forbidden(&mut bob, &answer, "d3", "send", "`alice`").await;

    // Broadcast: granted on bob only; a list with another name is refused whole.
    let answer = alice
        .request(json!({"type": "hub:broadcast", "id": "b1", "to": ["bob"], "payload": "all"}))
        .await;
    assert_eq!(answer["type"], "hub:broadcast_ack", "{answer}");
    assert_eq!(bob.expect("hub:message").await["payload"], "all");
    let answer = alice
        .request(
            json!({"type": "hub:broadcast", "id": "b2", "to": ["bob", "bot-1"], "payload": "x"}),
        )
        .await;
    assert_forbidden(&mut alice, &answer, "b2", "broadcast", "`bot-1`").await;
    // `send` is not `broadcast`, and "*" needs a grant on `*`.
    let answer = alice
        .request(json!({"type": "hub:broadcast", "id": "b3", "to": "*", "payload": "x"}))
        .await;
    assert_forbidden(&mut alice, &answer, "b3", "broadcast", "`*`").await;
    bob.expect_nothing_pending().await;
    bot.expect_nothing_pending().await;
}

#[tokio::test]
async fn direct_policies_open_or_close_sends_for_everyone() {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    config.hub.direct = DirectOptions {
        send: Policy::Everyone,
        broadcast: Policy::Nobody,
        ..DirectOptions::default()
    };
    let server = start(config);
    let mut a = connect(&server, "a", Value::Null).await;
    let mut b = connect(&server, "b", json!({"addresses": {"*": ["broadcast"]}})).await;
    let answer = a
        .request(json!({"type": "hub:send", "id": 1, "to": "b", "payload": 1}))
        .await;
    assert_eq!(
        answer["status"], "accepted",
        "send is open to everyone: {answer}"
    );
    assert_eq!(b.expect("hub:message").await["payload"], 1);
    let answer = b
        .request(json!({"type": "hub:broadcast", "id": "x", "to": "*", "payload": 2}))
        .await;
    assert_forbidden(&mut b, &answer, "x", "broadcast", "no client").await;
}

#[tokio::test]
async fn a_token_with_unusable_grants_is_refused() {
    let server = server();
    for (grants, words) in [
        (json!({"topics": {"chat:*": ["admin"]}}), "grants"),
        (json!({"topics": {"t": ["send"]}}), "does not apply"),
        (json!({"topics": {"a*b": ["publish"]}}), "a*b"),
        (json!({"channels": {}}), "grants"),
    ] {
        let mut c = Client::open(&server).await;
        let frame = json!({"type": "hub:connect", "id": 0, "address": "eve", "token": token("eve", grants.clone())});
        let answer = c.request(frame).await;
        assert_eq!(answer["code"], "unauthorized", "{grants}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains(words),
            "{grants}: `{words}` in `{message}`"
        );
    }
}

/// Without a key every session holds every right, but `nobody` stays nobody.
#[tokio::test]
async fn an_open_hub_grants_everything_but_policies_still_apply() {
    let mut config = test_config();
    let closed = NamespaceOptions {
        publish: Policy::Nobody,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("ops".into(), closed);
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "open").await;
    c.subscribe("anything").await;
    c.subscribe("ops:alerts").await;
    let answer = c
        .request(json!({"type": "hub:publish", "id": "p", "topic": "ops:alerts", "payload": 1}))
        .await;
    assert_forbidden(&mut c, &answer, "p", "publish", "no client").await;
}
