//! What each route does for a WebSocket client: publish, send and broadcast reach it, disconnect closes it, presence, topics and node describe the hub, a batch runs in order.

use super::*;

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
