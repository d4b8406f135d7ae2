//! The server API answers for the hub, not for the node that took the
//! request: with the Redis engine, a disconnect or kick through one node
//! closes the session on whichever node holds the address, and the topics
//! and node listings count every node.

mod common;

use common::redis::{node_config, ready_nodes, Redis};
use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};
use serde_json::{json, Value};

const KEY: &str = "backend-key-0123456789abcdef";

/// Two nodes on `redis` whose API takes `KEY` with `scope`.
async fn two_nodes_with_a_key(
    redis: &Redis,
    prefix: &str,
    scope: Scope,
) -> [hub_server::SpawnedServer; 2] {
    let mut config = node_config(redis, prefix);
    config.api_keys = vec![ApiKeyConfig {
        name: "backend".into(),
        key: KEY.into(),
        scopes: vec![scope],
    }];
    ready_nodes([config.clone(), config]).await
}

#[actix_rt::test]
async fn a_disconnect_through_one_node_closes_the_session_on_another() {
    let redis = Redis::start().await;
    let [one, two] = two_nodes_with_a_key(&redis, "api1:", Scope::Disconnect).await;
    let post = |path: &'static str, body: Value| {
        let one = &one;
        async move {
            let answer = http(one, "POST", path, Some(KEY), Some(&body.to_string())).await;
            (answer.status, answer.json())
        }
    };

    // Held on node two, disconnected through node one: it may come back.
    let (mut far, _) = Client::connect(&two, "far").await;
    let answer = post("/api/disconnect", json!({"address": "far"})).await;
    assert_eq!(answer, (200, json!({"disconnected": true})));
    let (frames, code) = far.until_close().await;
    assert_eq!(code, 4008, "{frames:?}");
    assert_eq!(frames.last().unwrap()["reason"], "disconnected");

    // Back on node two, kicked through node one (in a batch): told to stay away.
    let (mut far, _) = Client::connect(&two, "far").await;
    let batch = json!({"requests": [{"disconnect": {"address": "far", "code": "kicked"}}]});
    let (status, answer) = post("/api/batch", batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["results"][0]["result"],
        json!({"disconnected": true}),
        "{answer}"
    );
    let (frames, code) = far.until_close().await;
    assert_eq!(code, 4502, "{frames:?}");

    // Nobody holds it now, on any node.
    let answer = post("/api/disconnect", json!({"address": "far"})).await;
    assert_eq!(answer, (200, json!({"disconnected": false})));
    // And one held on the node that took the request, as before.
    let (mut near, _) = Client::connect(&one, "near").await;
    let answer = post("/api/disconnect", json!({"address": "near"})).await;
    assert_eq!(answer, (200, json!({"disconnected": true})));
    assert_eq!(near.until_close().await.1, 4008);
}

#[actix_rt::test]
async fn topics_and_nodes_are_listed_for_the_whole_hub() {
    let redis = Redis::start().await;
    let [one, two] = two_nodes_with_a_key(&redis, "api2:", Scope::Read).await;
    let mut clients = Vec::new();
    for (node, address, topics) in [
        (&one, "a", &["news"][..]),
        (&one, "b", &["news"][..]),
        (&two, "c", &["news", "other"][..]),
    ] {
        let (mut c, _) = Client::connect(node, address).await;
        for topic in topics {
            c.subscribe(topic).await;
        }
        clients.push(c);
    }
    let get = |path: &'static str| {
        let one = &one;
        async move { http(one, "GET", path, Some(KEY), None).await.json() }
    };
    assert_eq!(
        get("/api/topics").await,
        json!({"topics": [{"name": "news", "subscribers": 3}, {"name": "other", "subscribers": 1}]})
    );
    assert_eq!(
        get("/api/topics?prefix=ot").await,
        json!({"topics": [{"name": "other", "subscribers": 1}]})
    );
    assert_eq!(
        get("/api/topics?limit=1").await,
        json!({"topics": [{"name": "news", "subscribers": 3}]})
    );

    let node = get("/api/node").await;
    let nodes = node["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 2, "{node}");
    assert_eq!(
        nodes[0]["node_id"], node["node_id"],
        "the answering node first: {node}"
    );
    let mut figures: Vec<(u64, u64, u64)> = nodes
        .iter()
        .map(|n| {
            let f = |k: &str| n[k].as_u64().unwrap();
            (f("connections"), f("registered"), f("topics"))
        })
        .collect();
    figures.sort_unstable();
    assert_eq!(figures, vec![(1, 1, 2), (2, 2, 1)], "{node}");
}
