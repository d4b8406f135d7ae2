//! The server API over real HTTP on loopback: each route's effect as
//! WebSocket clients see it, and each refusal (401, 403, 413, 429, 400)
//! with its JSON `{code, message, hint}`.

mod common;

use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};
use serde_json::{json, Value};

const FULL: &str = "full-key-0123456789abcdef";
const PUBLISHER: &str = "publisher-key-0123456789";

fn keys() -> Vec<ApiKeyConfig> {
    use Scope::*;
    vec![
        ApiKeyConfig {
            name: "backend".into(),
            key: FULL.into(),
            scopes: vec![Publish, Send, Broadcast, Disconnect, Read],
        },
        ApiKeyConfig {
            name: "publisher".into(),
            key: PUBLISHER.into(),
            scopes: vec![Publish],
        },
    ]
}

fn server() -> hub_server::SpawnedServer {
    let mut config = test_config();
    config.api_keys = keys();
    config.api_max_body_bytes = 4096;
    config.api_max_batch = 5;
    start(config)
}

async fn post(
    server: &hub_server::SpawnedServer,
    path: &str,
    key: &str,
    body: Value,
) -> HttpAnswer {
    http(server, "POST", path, Some(key), Some(&body.to_string())).await
}

fn assert_error(answer: &HttpAnswer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status, status, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn publish_send_and_broadcast_reach_websocket_clients() {
    let server = server();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    alice.subscribe("news").await;

    let answer = post(
        &server,
        "/api/publish",
        FULL,
        json!({"topic": "news", "payload": {"n": 1}}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"recipients": 1}));
    let m = alice.expect("hub:message").await;
    assert_eq!(m["payload"], json!({"n": 1}));
    assert_eq!(m["from"], "backend", "the key's name is the default sender");

    let answer = post(
        &server,
        "/api/send",
        FULL,
        json!({"to": "bob", "payload": "hi", "from": "ops"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"status": "accepted"}));
    let m = bob.expect("hub:message").await;
    assert_eq!(
        (m["from"].as_str(), m["payload"].as_str()),
        (Some("ops"), Some("hi"))
    );
    let answer = post(
        &server,
        "/api/send",
        FULL,
        json!({"to": "carol", "payload": 1}),
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"status": "rejected", "reason": "recipient_not_found"}),
        "the same outcome hub:send gets"
    );

    let answer = post(
        &server,
        "/api/broadcast",
        FULL,
        json!({"to": ["alice", "bob", "carol"], "payload": 2}),
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"recipients": 2, "not_found": ["carol"]})
    );
    assert_eq!(alice.expect("hub:message").await["payload"], 2);
    assert_eq!(bob.expect("hub:message").await["payload"], 2);
    let answer = post(
        &server,
        "/api/broadcast",
        FULL,
        json!({"to": "*", "payload": 3}),
    )
    .await;
    assert_eq!(answer.json()["recipients"], 2);
    assert_eq!(alice.expect("hub:message").await["payload"], 3);
    assert_eq!(bob.expect("hub:message").await["payload"], 3);
    alice.expect_nothing_pending().await;
    bob.expect_nothing_pending().await;
}

#[tokio::test]
async fn disconnect_closes_the_session_with_the_asked_code() {
    let server = server();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let answer = post(
        &server,
        "/api/disconnect",
        FULL,
        json!({"address": "alice"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"disconnected": true}));
    let (frames, code) = alice.until_close().await;
    assert_eq!(code, 4008, "disconnected: may reconnect");
    let notice = frames.last().unwrap();
    assert_eq!(notice["type"], "hub:disconnect", "{frames:?}");
    assert_eq!(notice["reason"], "disconnected", "{frames:?}");
    assert_eq!(notice["reconnect"], true, "{frames:?}");

    let answer = post(
        &server,
        "/api/disconnect",
        FULL,
        json!({"address": "bob", "code": "kicked"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"disconnected": true}));
    assert_eq!(bob.until_close().await.1, 4502, "kicked: terminal");

    let answer = post(
        &server,
        "/api/disconnect",
        FULL,
        json!({"address": "nobody"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"disconnected": false}));
    let answer = post(
        &server,
        "/api/disconnect",
        FULL,
        json!({"address": "x", "code": "banished"}),
    )
    .await;
    let body = assert_error(&answer, 400, "invalid_field");
    assert!(body["message"].as_str().unwrap().contains("banished"));
}

#[tokio::test]
async fn presence_routes_show_members_and_who_is_online() {
    let mut config = test_config();
    config.api_keys = keys();
    let room = hub_core::permissions::NamespaceOptions {
        track_presence: true,
        ..Default::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    let server = start(config);
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    a.subscribe("room:1").await;
    b.subscribe("room:1").await;

    let answer = http(
        &server,
        "GET",
        "/api/presence?topic=room:1&limit=1",
        Some(FULL),
        None,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"members": [{"address": "a"}], "next": "a", "total": 2})
    );
    let answer = http(
        &server,
        "GET",
        "/api/presence?topic=room:1&after=a",
        Some(FULL),
        None,
    )
    .await;
    assert_eq!(
        answer.json(),
        json!({"members": [{"address": "b"}], "total": 2})
    );
    let answer = http(
        &server,
        "GET",
        "/api/presence_stats?topic=room:1",
        Some(FULL),
        None,
    )
    .await;
    assert_eq!(answer.json(), json!({"members": 2}));
    let answer = http(&server, "GET", "/api/online?address=b", Some(FULL), None).await;
    assert_eq!(answer.json(), json!({"online": true}));
    let answer = http(&server, "GET", "/api/online?address=zed", Some(FULL), None).await;
    assert_eq!(answer.json(), json!({"online": false}));

    let answer = http(
        &server,
        "GET",
        "/api/presence?topic=lobby",
        Some(FULL),
        None,
    )
    .await;
    assert_error(&answer, 400, "presence_disabled");
    let answer = http(
        &server,
        "GET",
        "/api/presence?topic=room:1&limit=1001",
        Some(FULL),
        None,
    )
    .await;
    assert_error(&answer, 400, "invalid_field");
    let answer = http(
        &server,
        "GET",
        "/api/presence_stats?topic=nope:1",
        Some(FULL),
        None,
    )
    .await;
    assert_error(&answer, 400, "unknown_namespace");
    let answer = http(
        &server,
        "GET",
        "/api/presence?topic=room:1",
        Some(PUBLISHER),
        None,
    )
    .await;
    assert_error(&answer, 403, "forbidden");
}

#[tokio::test]
async fn topics_and_node_describe_the_hub() {
    let server = server();
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    a.subscribe("room-1").await;
    b.subscribe("room-1").await;
    b.subscribe("room-2").await;
    a.subscribe("lobby").await;

    let answer = http(&server, "GET", "/api/topics?prefix=room-", Some(FULL), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"topics": [{"name": "room-1", "subscribers": 2}, {"name": "room-2", "subscribers": 1}]})
    );
    let answer = http(&server, "GET", "/api/topics?limit=1", Some(FULL), None).await;
    assert_eq!(
        answer.json(),
        json!({"topics": [{"name": "lobby", "subscribers": 1}]})
    );
    let answer = http(&server, "GET", "/api/topics?limit=0", Some(FULL), None).await;
    assert_error(&answer, 400, "invalid_field");
    let answer = http(&server, "GET", "/api/topics?limit=lots", Some(FULL), None).await;
    assert_error(&answer, 400, "invalid_field");

    let answer = http(&server, "GET", "/api/node", Some(FULL), None).await;
    let node = answer.json();
    assert_eq!(node["connections"], 2, "{node}");
    assert_eq!(node["registered"], 2, "{node}");
    assert_eq!(node["topics"], 3, "{node}");
    assert_eq!(node["auth_enforced"], false);
    assert_eq!(node["node_id"].as_str().unwrap().len(), 16);
    // One node: the hub's list is this node.
    assert_eq!(
        node["nodes"],
        json!([{"node_id": node["node_id"], "draining": false, "connections": 2, "registered": 2, "topics": 3}]),
        "{node}"
    );
}

#[tokio::test]
async fn a_batch_runs_in_order_with_a_result_each() {
    let server = server();
    let (mut alice, _) = Client::connect(&server, "alice").await;
    alice.subscribe("t").await;
    let batch = json!({"requests": [
        {"publish": {"topic": "t", "payload": 1}},
        {"send": {"to": "alice", "payload": 2}},
        {"send": {"to": "nobody", "payload": 3}},
        {"publish": {"topic": "t", "payload": 4}},
    ]});
    let answer = post(&server, "/api/batch", FULL, batch.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json(),
        json!({"results": [
            {"status": 200, "result": {"recipients": 1}},
            {"status": 200, "result": {"status": "accepted"}},
            {"status": 200, "result": {"status": "rejected", "reason": "recipient_not_found"}},
            {"status": 200, "result": {"recipients": 1}},
        ]})
    );
    for n in [1, 2, 4] {
        assert_eq!(alice.expect("hub:message").await["payload"], n, "in order");
    }

    // Each item is held to the key's scopes on its own.
    let answer = post(&server, "/api/batch", PUBLISHER, batch).await;
    let results = answer.json()["results"].clone();
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[1]["status"], 403);
    assert_eq!(results[1]["error"]["code"], "forbidden");
    assert!(results[1]["error"]["hint"]
        .as_str()
        .unwrap()
        .contains("`send`"));
    assert_eq!(results[3]["status"], 200);
    assert_eq!(alice.expect("hub:message").await["payload"], 1);
    assert_eq!(alice.expect("hub:message").await["payload"], 4);

    // Too many items, or an unknown op: nothing runs.
    let many: Vec<Value> = (0..6)
        .map(|i| json!({"publish": {"topic": "t", "payload": i}}))
        .collect();
    let answer = post(&server, "/api/batch", FULL, json!({"requests": many})).await;
    assert_error(&answer, 400, "invalid_field");
    let answer = post(
        &server,
        "/api/batch",
        FULL,
        json!({"requests": [{"publish": {"topic": "t", "payload": 9}}, {"launch": {}}]}),
    )
    .await;
    let body = assert_error(&answer, 400, "invalid_field");
    assert!(
        body["message"].as_str().unwrap().contains("launch"),
        "{body}"
    );
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn keys_scopes_and_bodies_are_checked() {
    let server = server();
    let publish = json!({"topic": "t", "payload": 1}).to_string();
    // No key, a wrong key, a key without the scope.
    let answer = http(&server, "POST", "/api/publish", None, Some(&publish)).await;
    let body = assert_error(&answer, 401, "unauthorized");
    assert!(body["hint"].as_str().unwrap().contains("Bearer"), "{body}");
    assert_eq!(
        answer.headers.get("www-authenticate").map(String::as_str),
        Some("Bearer")
    );
    let answer = http(
        &server,
        "POST",
        "/api/publish",
        Some("not-a-key-at-all-000000"),
        Some(&publish),
    )
    .await;
    assert_error(&answer, 401, "unauthorized");
    let answer = http(
        &server,
        "POST",
        "/api/send",
        Some(PUBLISHER),
        Some(r#"{"to":"a","payload":1}"#),
    )
    .await;
    let body = assert_error(&answer, 403, "forbidden");
    assert!(body["hint"].as_str().unwrap().contains("`send`"), "{body}");

    // Bodies: too large, not JSON, a missing field, a wrong type, an unknown field.
    let big = json!({"topic": "t", "payload": "x".repeat(5000)}).to_string();
    let answer = http(&server, "POST", "/api/publish", Some(FULL), Some(&big)).await;
    assert_error(&answer, 413, "message_too_large");
    let answer = http(&server, "POST", "/api/publish", Some(FULL), Some("{nope")).await;
    assert_error(&answer, 400, "bad_json");
    let answer = post(&server, "/api/publish", FULL, json!({"payload": 1})).await;
    let body = assert_error(&answer, 400, "missing_field");
    assert!(
        body["message"].as_str().unwrap().contains("`topic`"),
        "{body}"
    );
    let answer = post(
        &server,
        "/api/publish",
        FULL,
        json!({"topic": 5, "payload": 1}),
    )
    .await;
    let body = assert_error(&answer, 400, "invalid_field");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("field `topic`: "),
        "the field is named: {body}"
    );
    assert!(!message.contains("line 1"), "no parser position: {body}");
    let answer = post(
        &server,
        "/api/send",
        FULL,
        json!({"to": "a", "payload": 1, "idempotency_key": 5}),
    )
    .await;
    let body = assert_error(&answer, 400, "invalid_field");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("`idempotency_key`"),
        "{body}"
    );
    // A query's field: a wrong one and a missing one.
    let answer = http(&server, "GET", "/api/topics?limit=many", Some(FULL), None).await;
    let body = assert_error(&answer, 400, "invalid_field");
    assert!(
        body["message"].as_str().unwrap().contains("`limit`"),
        "{body}"
    );
    let answer = http(&server, "GET", "/api/presence_stats", Some(FULL), None).await;
    let body = assert_error(&answer, 400, "missing_field");
    assert!(
        body["message"].as_str().unwrap().contains("`topic`"),
        "{body}"
    );
    let answer = post(
        &server,
        "/api/publish",
        FULL,
        json!({"topic": "t", "payload": 1, "form": "x"}),
    )
    .await;
    let body = assert_error(&answer, 400, "invalid_field");
    assert!(body["message"].as_str().unwrap().contains("form"), "{body}");
    let answer = post(
        &server,
        "/api/publish",
        FULL,
        json!({"topic": "", "payload": 1}),
    )
    .await;
    assert_error(&answer, 400, "invalid_field");
    let answer = post(
        &server,
        "/api/publish",
        FULL,
        json!({"topic": "nowhere:t", "payload": 1}),
    )
    .await;
    assert_error(&answer, 400, "unknown_namespace");
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let mut config = test_config();
    config.api_keys = keys();
    config.api_rate_per_sec = 2;
    let server = start(config);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let answer = http(&server, "GET", "/api/node", Some(FULL), None).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            let body = assert_error(&answer, 429, "rate_limited");
            assert!(body["retry_after_ms"].as_u64().unwrap() > 0);
            let retry: u64 = answer.headers["retry-after"].parse().unwrap();
            assert!(retry >= 1, "Retry-After in whole seconds");
        }
    }
    assert!(
        statuses.contains(&429),
        "a burst of 5 over a rate of 2: {statuses:?}"
    );
    // Another key has its own budget.
    let answer = post(
        &server,
        "/api/publish",
        PUBLISHER,
        json!({"topic": "t", "payload": 1}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn an_api_without_keys_refuses_everything() {
    let server = start_default();
    let answer = http(&server, "GET", "/api/node", Some(FULL), None).await;
    let body = assert_error(&answer, 401, "unauthorized");
    assert!(
        body["hint"].as_str().unwrap().contains("api_keys"),
        "{body}"
    );
}

#[test]
fn weak_or_duplicate_keys_stop_the_server() {
    let mut config = test_config();
    config.api_keys = vec![ApiKeyConfig {
        name: "short".into(),
        key: "1234".into(),
        scopes: vec![Scope::Read],
    }];
    let e = hub_server::spawn(config.clone()).unwrap_err().to_string();
    assert!(e.contains("short") && e.contains("16"), "{e}");
    config.api_keys = [keys(), keys()].concat();
    let e = hub_server::spawn(config).unwrap_err().to_string();
    assert!(e.contains("twice"), "{e}");
}

/// The OpenAPI document lists exactly the mounted routes, and each answers.
#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let server = server();
    let answer = http(&server, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(answer.status, 200);
    let doc = answer.json();
    let paths = doc["paths"].as_object().expect("paths");
    let routes = hub_server::api::routes();
    for (method, path, _) in &routes {
        let method = method.as_str().to_ascii_lowercase();
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} not in the document"))[&method];
        assert!(op.is_object(), "{method} {path} not in the document");
        assert!(op["responses"]["401"].is_object(), "{path} documents 401");
        // Mounted, and behind a key.
        let answer = http(
            &server,
            &method.to_ascii_uppercase(),
            path,
            None,
            Some("{}"),
        )
        .await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.body);
    }
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                routes
                    .iter()
                    .any(|(m, p, _)| p == path && m.as_str().eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not mounted"
            );
        }
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ApiError"].is_object());
}

/// Every route, as the issue lists it: without a key (401), with a key
/// lacking its scope (403), with an oversized body (413, for routes with a
/// body), and over the key's rate (429).
#[tokio::test]
async fn every_route_refuses_each_way() {
    let mut config = test_config();
    let mut all = keys();
    all.push(ApiKeyConfig {
        name: "nothing-useful".into(),
        key: "scopeless-key-0123456789".into(),
        // A valid key with one scope no route below but `topics`/`node` needs.
        scopes: vec![Scope::Read],
    });
    all.push(ApiKeyConfig {
        name: "limited".into(),
        key: "limited-key-0123456789ab".into(),
        scopes: vec![
            Scope::Publish,
            Scope::Send,
            Scope::Broadcast,
            Scope::Disconnect,
            Scope::Read,
        ],
    });
    config.api_keys = all;
    config.api_max_body_bytes = 256;
    let server = start(config);
    let big = format!(r#"{{"topic":"t","payload":"{}"}}"#, "x".repeat(1000));
    for (method, path, _) in hub_server::api::routes() {
        let method = method.as_str();
        let body = (method == "POST").then_some("{}");
        let answer = http(&server, method, path, None, body).await;
        assert_error(&answer, 401, "unauthorized");
        let read_only = "scopeless-key-0123456789";
        let answer = http(&server, method, path, Some(read_only), body).await;
        match path {
            // Read routes: this key may; the batch route checks per item.
            "/api/topics" | "/api/node" => assert_eq!(answer.status, 200, "{path}"),
            // Allowed, but a topic or address is required.
            "/api/presence" | "/api/presence_stats" | "/api/online" => {
                let body = assert_error(&answer, 400, "missing_field");
                let message = body["message"].as_str().unwrap();
                assert!(
                    message.contains("`topic`") || message.contains("`address`"),
                    "{body}"
                );
            }
            "/api/batch" => assert_eq!(answer.status, 400, "{path}: an empty object is no batch"),
            _ => {
                let body = assert_error(&answer, 403, "forbidden");
                assert!(
                    body["hint"].as_str().unwrap().contains("scope"),
                    "{path}: {body}"
                );
            }
        }
        if method == "POST" {
            let answer = http(&server, method, path, Some(FULL), Some(&big)).await;
            assert_error(&answer, 413, "message_too_large");
        }
    }
    // Over the rate: at 1 request per second, of two requests in a row to
    // any route at least one is refused (a second would have to pass
    // between them for both to get through).
    let mut config = test_config();
    config.api_keys = keys();
    config.api_rate_per_sec = 1;
    let server = start(config);
    for (method, path, _) in hub_server::api::routes() {
        let method = method.as_str();
        let body = (method == "POST").then_some("{}");
        let first = http(&server, method, path, Some(FULL), body).await;
        let refused = if first.status == 429 {
            first
        } else {
            http(&server, method, path, Some(FULL), body).await
        };
        assert_error(&refused, 429, "rate_limited");
        assert!(refused.headers.contains_key("retry-after"), "{path}");
    }
}

/// With durability on, the API's send has hub:send's outcomes: `queued`
/// for a known address that is away, delivered with its `seq` later.
#[tokio::test]
async fn an_api_send_to_an_away_address_is_queued() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.request(json!({"type": "hub:disconnect"})).await;
    let _ = bob.until_close().await;
    let answer = post(
        &server,
        "/api/send",
        FULL,
        json!({"to": "bob", "payload": "later"}),
    )
    .await;
    assert_eq!(answer.json(), json!({"status": "queued"}));
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let m = bob.expect("hub:message").await;
    assert_eq!(
        (m["payload"].as_str(), m["seq"].as_u64()),
        (Some("later"), Some(1))
    );
}

/// `idempotency_key` on the API's send: a retry is answered again and
/// delivered once; the same key for another message is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_send_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let send = json!({"to": "bob", "payload": "once", "idempotency_key": "order-17"});
    let first = post(&server, "/api/send", FULL, send.clone()).await;
    assert_eq!(first.json(), json!({"status": "accepted"}));
    let retry = post(&server, "/api/send", FULL, send).await;
    assert_eq!(
        retry.json(),
        json!({"status": "accepted"}),
        "the first answer again"
    );
    let m = bob.expect("hub:message").await;
    assert_eq!(m["payload"], "once");
    bob.expect_nothing_pending().await;
    let other = json!({"to": "bob", "payload": "different", "idempotency_key": "order-17"});
    let answer = post(&server, "/api/send", FULL, other).await;
    assert_error(&answer, 409, "idempotency_conflict");
    bob.expect_nothing_pending().await;
}

/// `idempotency_key` on the API's broadcast: a retry gets the first
/// answer and reaches each address once; the same key for another message
/// is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_broadcast_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let broadcast = json!({"to": ["bob", "ghost"], "payload": "once", "idempotency_key": "news-3"});
    let first = post(&server, "/api/broadcast", FULL, broadcast.clone()).await;
    let expected = json!({"recipients": 1, "not_found": ["ghost"]});
    assert_eq!(first.json(), expected);
    let retry = post(&server, "/api/broadcast", FULL, broadcast).await;
    assert_eq!(retry.json(), expected, "the first answer again");
    assert_eq!(bob.expect("hub:message").await["payload"], "once");
    bob.expect_nothing_pending().await;
    let other = json!({"to": "*", "payload": "once", "idempotency_key": "news-3"});
    let answer = post(&server, "/api/broadcast", FULL, other).await;
    assert_error(&answer, 409, "idempotency_conflict");
    let bad = json!({"to": "*", "payload": 1, "idempotency_key": ""});
    let answer = post(&server, "/api/broadcast", FULL, bad).await;
    assert_error(&answer, 400, "invalid_field");
    bob.expect_nothing_pending().await;
}

/// `idempotency_key` on the API's publish: a retry gets the first answer
/// (with the offset, in a namespace with history) and reaches subscribers
/// once; the same key for another message is 409.
#[tokio::test]
async fn an_idempotency_key_makes_an_api_publish_safe_to_retry() {
    let mut config = test_config();
    config.api_keys = keys();
    config.durability = hub_server::Durability::Memory;
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 10,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    let server = start(config);
    let (mut reader, _) = Client::connect(&server, "reader").await;
    reader.subscribe("feed:orders").await;
    let publish = json!({"topic": "feed:orders", "payload": "once", "idempotency_key": "pub-9"});
    let first = post(&server, "/api/publish", FULL, publish.clone()).await;
    assert_eq!(first.json(), json!({"recipients": 1, "offset": 1}));
    let retry = post(&server, "/api/publish", FULL, publish).await;
    assert_eq!(retry.json(), first.json(), "the first answer again");
    let m = reader.expect("hub:message").await;
    assert_eq!((&m["payload"], &m["offset"]), (&json!("once"), &json!(1)));
    reader.expect_nothing_pending().await;
    let other = json!({"topic": "feed:orders", "payload": "different", "idempotency_key": "pub-9"});
    assert_error(
        &post(&server, "/api/publish", FULL, other).await,
        409,
        "idempotency_conflict",
    );
    let bad = json!({"topic": "feed:orders", "payload": 1, "idempotency_key": ""});
    assert_error(
        &post(&server, "/api/publish", FULL, bad).await,
        400,
        "invalid_field",
    );
    reader.expect_nothing_pending().await;
}
