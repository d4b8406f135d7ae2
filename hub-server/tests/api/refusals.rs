//! What the API refuses, and how: keys, scopes, bodies, rates, a server without keys, weak keys; the OpenAPI document covers every route and every route refuses each way.

use super::*;

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
    let body = assert_error(&answer, 401, "unauthorized");
    let hint = body["hint"].as_str().unwrap();
    assert!(
        hint.contains("api_keys") && hint.contains("reload"),
        "{body}"
    );
    assert!(
        !hint.contains("hub:connect"),
        "not a client's token: {body}"
    );
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
            // Allowed, but a topic, address or user is required.
            "/api/presence" | "/api/presence_stats" | "/api/online" | "/api/connections" => {
                let body = assert_error(&answer, 400, "missing_field");
                let message = body["message"].as_str().unwrap();
                assert!(
                    ["`topic`", "`address`", "`user`"]
                        .iter()
                        .any(|field| message.contains(field)),
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
        if path == "/api/reload" {
            // It reads no body: a reload that changes nothing.
            let answer = http(&server, method, path, Some(FULL), Some(&big)).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
        } else if method == "POST" {
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
