//! The subscribe, publish and RPC proxies against a real HTTP backend
//! started by the test: in a namespace whose `subscribe` or `publish` is
//! `"proxy"`, the backend grants or refuses each request (with its own
//! code, which the client sees as `reason`), and may replace a published
//! payload; `hub:rpc` is answered by it. A backend that is slow, down,
//! failing or answering nonsense is a clear refusal (`unavailable`,
//! `internal`), never a hang or a panic.

mod common;

use common::backend::{Backend, Reply};
use common::*;
use hub_core::permissions::{NamespaceOptions, Policy};
use serde_json::{json, Value};

const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

/// Namespace `room`: subscribes and publishes decided by the backend,
/// presence tracked and open to those granted it.
fn with_proxies(
    mut config: hub_server::ServerConfig,
    backend: &Backend,
) -> hub_server::ServerConfig {
    config.subscribe_proxy_url = backend.url_of("/subscribe");
    config.publish_proxy_url = backend.url_of("/publish");
    config.rpc_proxy_url = backend.url_of("/rpc");
    config.proxy_timeout_ms = 300;
    let room = NamespaceOptions {
        subscribe: Policy::Proxy,
        publish: Policy::Proxy,
        track_presence: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
}

fn json_reply(value: Value) -> Reply {
    Reply::Json(value.to_string())
}

async fn connect(url: &str, user: &str, device: &str) -> Client {
    let mut c = Client::open_url(url).await;
    let answer = c
        .request(json!({"type": "hub:connect", "id": 1, "address": user, "device": device}))
        .await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

/// On every engine: the backend decides who joins `room:*` and what is
/// published there, whatever the connection's own grants say.
async fn the_backend_decides_subscribes_and_publishes(engine: common::engines::Engine) {
    let backend = Backend::start(json_reply(json!({"result": {}}))).await;
    let node = engine.start(with_proxies(engine.config(), &backend)).await;
    let url = node.ws_url();
    let mut alice = connect(&url, "alice", "tab1").await;
    let mut bob = connect(&url, "bob", "phone").await;

    let ack = alice
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:7"}))
        .await;
    assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    let asked = backend.posted_to("/subscribe");
    assert_eq!(
        asked,
        vec![
            json!({"client": asked[0]["client"], "user": "alice", "address": "alice/tab1",
            "topic": "room:7"})
        ]
    );
    assert!(asked[0]["client"].as_str().is_some_and(|c| !c.is_empty()));

    // A refusal carries the backend's code as `reason`.
    backend.set_for(
        "/subscribe",
        json_reply(json!({"error": {"code": "not_member", "message": "bob is not in room 7"}})),
    );
    let refused = bob
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:7"}))
        .await;
    assert_eq!(
        (
            &refused["type"],
            &refused["code"],
            &refused["reason"],
            &refused["temporary"]
        ),
        (
            &json!("hub:error"),
            &json!("refused"),
            &json!("not_member"),
            &json!(false)
        ),
        "{refused}"
    );
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("bob is not in room 7"));
    backend.set_for("/subscribe", json_reply(json!({"result": {}})));
    bob.subscribe("room:7").await;
    let left = alice
        .request(json!({"type": "hub:unsubscribe", "id": 3, "topic": "room:7"}))
        .await;
    assert_eq!(left["type"], "hub:unsubscribe_ack", "{left}");

    // Let through as sent, replaced, refused: in the order published.
    let publish = |n: u64| {
        json!({"type": "hub:publish", "id": n, "topic": "room:7",
        "payload": {"text": format!("hi {n}")}})
    };
    let ack = alice.request(publish(10)).await;
    assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
    backend.set_for(
        "/publish",
        json_reply(json!({"result": {"payload": {"text": "hi 11", "checked": true}}})),
    );
    let ack = alice.request(publish(11)).await;
    assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
    backend.set_for(
        "/publish",
        json_reply(json!({"error": {"code": "spam", "message": "slow down"}})),
    );
    let refused = alice.request(publish(12)).await;
    assert_eq!(
        (&refused["code"], &refused["reason"]),
        (&json!("refused"), &json!("spam")),
        "{refused}"
    );
    backend.set_for("/publish", json_reply(json!({"result": {}})));
    alice.request(publish(13)).await;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let frame = bob.next_frame().await;
        if frame["type"] == "hub:message" {
            seen.push(frame["payload"].clone());
        }
    }
    assert_eq!(
        seen,
        vec![
            json!({"text": "hi 10"}),
            json!({"text": "hi 11", "checked": true}),
            json!({"text": "hi 13"})
        ],
        "the refused one never reaches a subscriber"
    );
    let posted = backend.posted_to("/publish");
    assert_eq!(posted.len(), 4, "{posted:?}");
    assert_eq!(posted[0]["payload"], json!({"text": "hi 10"}));
    assert_eq!(
        (&posted[0]["user"], &posted[0]["topic"]),
        (&json!("alice"), &json!("room:7"))
    );
}

on_every_engine!(the_backend_decides_subscribes_and_publishes);

/// The backend's grant of a subscribe may carry more rights on the topic
/// than the connection's token grants.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscribe_grant_carries_rights() {
    let backend = Backend::start(json_reply(json!({"result": {"rights": ["presence"]}}))).await;
    let mut config = with_proxies(test_config(), &backend);
    config.jwt_hmac_secret = SECRET.into();
    let server = start(config.clone());
    let none = hub_server::auth::parse_grants(&[], &[]).unwrap();
    let ttl = std::time::Duration::from_secs(600);
    let token = hub_server::auth::mint(&config, "carol", ttl, &none).unwrap();
    let mut c = Client::open(&server).await;
    let answer = c
        .request(json!({"type": "hub:connect", "id": 1, "address": "carol", "token": token}))
        .await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    let presence = json!({"type": "hub:presence", "id": 3, "topic": "room:1"});
    let before = c.request(presence.clone()).await;
    assert_eq!(before["code"], "forbidden", "{before}");
    c.subscribe("room:1").await;
    let page = c.request(presence).await;
    assert_eq!(page["type"], "hub:presence_ack", "{page}");
    assert_eq!(page["members"][0]["address"], "carol", "{page}");

    backend.set(json_reply(json!({"result": {"rights": ["fly"]}})));
    let answer = c
        .request(json!({"type": "hub:subscribe", "id": 4, "topic": "room:2"}))
        .await;
    assert_eq!(answer["code"], "internal", "{answer}");
}

/// `hub:rpc` goes to the backend and its answer comes back in
/// `hub:rpc_ack`; calls run beside the session's other frames, at most
/// `max_rpcs_per_session` at once.
#[tokio::test(flavor = "multi_thread")]
async fn rpc_is_answered_by_the_backend() {
    let backend = Backend::start(json_reply(json!({"result": {"data": {"name": "Alice"}}}))).await;
    let mut config = with_proxies(test_config(), &backend);
    config.hub.max_rpcs_per_session = 2;
    config.proxy_timeout_ms = 5_000;
    let server = start(config);
    let mut c = connect(&server.ws_url(), "alice", "tab1").await;
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 2, "method": "profile.get", "data": {"id": 7}}))
        .await;
    assert_eq!(
        answer,
        json!({"type": "hub:rpc_ack", "id": 2, "data": {"name": "Alice"}})
    );
    let posted = backend.posted_to("/rpc");
    assert_eq!(
        (
            &posted[0]["method"],
            &posted[0]["data"],
            &posted[0]["address"]
        ),
        (
            &json!("profile.get"),
            &json!({"id": 7}),
            &json!("alice/tab1")
        ),
        "{posted:?}"
    );

    backend.set_for("/rpc", json_reply(json!({"result": {}})));
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 3, "method": "ping"}))
        .await;
    assert_eq!(
        answer,
        json!({"type": "hub:rpc_ack", "id": 3, "data": null})
    );
    assert_eq!(backend.posted_to("/rpc")[1]["data"], Value::Null);

    backend.set_for(
        "/rpc",
        json_reply(json!({"error": {"code": "no_such_user", "message": "who is 9?"}})),
    );
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 4, "method": "profile.get"}))
        .await;
    assert_eq!(
        (&answer["code"], &answer["reason"]),
        (&json!("refused"), &json!("no_such_user"))
    );

    // Bad input is refused before the backend is asked.
    let calls = backend.posted_to("/rpc").len();
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 5, "method": "a b"}))
        .await;
    assert_eq!(answer["code"], "invalid_field", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("method"),
        "{answer}"
    );
    let answer = c.request(json!({"type": "hub:rpc", "id": 6})).await;
    assert_eq!(answer["code"], "missing_field", "{answer}");
    c.send(json!({"type": "hub:rpc", "method": "x"})).await;
    let answer = c.expect("hub:error").await;
    assert_eq!(
        answer["code"], "missing_field",
        "an RPC needs an id: {answer}"
    );
    assert_eq!(backend.posted_to("/rpc").len(), calls);

    // Two wait; a third is refused; the session goes on meanwhile.
    backend.set_for(
        "/rpc",
        Reply::Late(1_500, json!({"result": {"data": "late"}}).to_string()),
    );
    c.send(json!({"type": "hub:rpc", "id": 7, "method": "slow"}))
        .await;
    c.send(json!({"type": "hub:rpc", "id": 8, "method": "slow"}))
        .await;
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 9, "method": "slow"}))
        .await;
    assert_eq!(
        (&answer["code"], &answer["temporary"]),
        (&json!("too_many_rpcs"), &json!(true))
    );
    let pong = c.request(json!({"type": "hub:ping", "id": 10})).await;
    assert_eq!(pong["type"], "hub:pong", "{pong}");
    let mut answered: Vec<Value> = Vec::new();
    while answered.len() < 2 {
        let frame = c.next_frame().await;
        if frame["type"] == "hub:rpc_ack" {
            answered.push(frame["id"].clone());
        }
    }
    answered.sort_by_key(|id| id.as_u64());
    assert_eq!(answered, vec![json!(7), json!(8)]);

    // No RPC proxy: refused at once.
    let mut config = test_config();
    config.publish_proxy_url = backend.url_of("/publish");
    let bare = start(config);
    let mut c = connect(&bare.ws_url(), "alice", "tab1").await;
    let answer = c
        .request(json!({"type": "hub:rpc", "id": 2, "method": "x"}))
        .await;
    assert_eq!(
        (&answer["code"], &answer["temporary"]),
        (&json!("no_backend"), &json!(false))
    );
}

/// Each way the backend can fail the hub, for each proxy: a refusal that
/// says which, within `proxy_timeout_ms`, counted in the metrics.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_down_failing_or_garbled_backend_is_a_clear_refusal() {
    let backend = Backend::start(Reply::Hang).await;
    let server = start(with_proxies(test_config(), &backend));
    let mut c = connect(&server.ws_url(), "dave", "tab1").await;
    let calls = [
        json!({"type": "hub:subscribe", "topic": "room:9"}),
        json!({"type": "hub:publish", "topic": "room:9", "payload": 1}),
        json!({"type": "hub:rpc", "method": "m"}),
    ];
    let cases = [
        (Reply::Hang, "unavailable"),
        (Reply::Status(500), "unavailable"),
        (Reply::Status(404), "internal"),
        (Reply::Json("not json".into()), "internal"),
        (Reply::Json(r#"{"result": 5}"#.into()), "internal"),
        (Reply::Json(r#"{"result": {"x": 1}}"#.into()), "internal"),
        (
            Reply::Json(r#"{"result": {}, "error": {"message": "x"}}"#.into()),
            "internal",
        ),
        (
            Reply::Json(format!(
                r#"{{"error": {{"code": "{}", "message": "x"}}}}"#,
                "c".repeat(65)
            )),
            "internal",
        ),
    ];
    let mut id = 1;
    for (reply, code) in cases {
        backend.set(reply);
        for call in &calls {
            id += 1;
            let mut call = call.clone();
            call["id"] = json!(id);
            let answer = c.request(call.clone()).await;
            assert_eq!(answer["code"], code, "{call} -> {answer}");
            assert!(answer.get("reason").is_none(), "{answer}");
        }
    }
    let scraped = http(&server, "GET", "/metrics", None, None).await.body;
    for proxy in ["subscribe", "publish", "rpc"] {
        for outcome in ["unavailable", "malformed"] {
            let line =
                format!(r#"signal_hub_proxy_calls_total{{proxy="{proxy}",outcome="{outcome}"}}"#);
            assert!(scraped.contains(&line), "{line} in {scraped}");
        }
    }

    // Down: nothing listens at the URLs.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/subscribe", listener.local_addr().unwrap())
    };
    let mut config = with_proxies(test_config(), &backend);
    config.subscribe_proxy_url = closed;
    let down = start(config);
    let mut c = connect(&down.ws_url(), "erin", "tab1").await;
    let answer = c
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "room:1"}))
        .await;
    assert_eq!(
        (&answer["code"], &answer["temporary"]),
        (&json!("unavailable"), &json!(true))
    );
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("could not be reached"), "{message}");
    assert!(
        !message.contains("127.0.0.1"),
        "the backend's address stays in the log: {message}"
    );
}

/// A namespace whose policy is `proxy` without the proxy to ask is a
/// start-up error naming both.
#[test]
fn a_proxy_policy_needs_its_proxy() {
    let mut config = test_config();
    let room = NamespaceOptions {
        publish: Policy::Proxy,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    let error = refused(config);
    assert!(
        error.contains("namespaces.room") && error.contains("publish_proxy_url"),
        "{error}"
    );
    let mut config = test_config();
    let odd = NamespaceOptions {
        presence: Policy::Proxy,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), odd);
    let error = refused(config);
    assert!(
        error.contains("only a namespace's subscribe and publish"),
        "{error}"
    );
}

fn refused(config: hub_server::ServerConfig) -> String {
    match hub_server::spawn(config) {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}
