//! The server API over real HTTP on loopback: each route's effect as
//! WebSocket clients see it, and each refusal (401, 403, 413, 429, 400)
//! with its JSON `{code, message, hint}`.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};
use serde_json::{json, Value};

mod refusals;
mod retries;
mod routes;

const FULL: &str = "full-key-0123456789abcdef";

const PUBLISHER: &str = "publisher-key-0123456789";

fn keys() -> Vec<ApiKeyConfig> {
    use Scope::*;
    vec![
        ApiKeyConfig {
            name: "backend".into(),
            key: FULL.into(),
            scopes: vec![Publish, Send, Broadcast, Disconnect, Read, Admin],
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
