//! A user is not a connection: `hub:connect` with a `device` registers
//! `user/device`, so a user's tabs and devices stay side by side, a send
//! to the user reaches every one of them (on any node), a send to one
//! device reaches only it, the same device connecting again replaces its
//! own older session, `user_connection_limit` caps a user's connections
//! hub-wide, and the API lists a user's connections with their nodes and
//! disconnects them but one. On
//! every engine (two nodes where they share one).

mod common;

use common::engines::{Engine, Kind};
use common::*;
use serde_json::{json, Value};

/// Connects `user` as `device` (`None`: the user's own address).
async fn tab(url: &str, user: &str, device: Option<&str>) -> (Client, Value) {
    let mut c = Client::open_url(url).await;
    c.send(json!({"type": "hub:connect", "id": "c", "address": user, "device": device}))
        .await;
    let answer = c.next_frame().await;
    (c, answer)
}

async fn connected(url: &str, user: &str, device: &str) -> Client {
    let (c, answer) = tab(url, user, Some(device)).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    assert_eq!(answer["address"], format!("{user}/{device}"), "{answer}");
    c
}

/// The nodes of a test: two sharing the engine, or one.
async fn nodes(
    engine: &Engine,
    mut config: hub_server::ServerConfig,
) -> Vec<hub_server::SpawnedServer> {
    config.hub.user_connection_limit = 3;
    let shared = matches!(engine.kind, Kind::Redis | Kind::RedisCluster);
    let mut nodes = vec![engine.start(config.clone()).await];
    if shared {
        nodes.push(engine.start(config).await);
    }
    nodes
}

/// The next direct message `c` gets (skipping nothing: it must be one).
async fn message(c: &mut Client) -> Value {
    let m = c.next_frame().await;
    assert_eq!(m["type"], "hub:message", "{m}");
    m
}

/// Live sends (durability off; stored ones: `user_inboxes.rs`).
async fn a_users_tabs_stay_side_by_side_and_each_gets_what_is_sent_to_the_user(engine: Engine) {
    {
        let mut config = engine.config();
        config.durability = hub_server::Durability::Off;
        let nodes = nodes(&engine, config).await;
        let url = |i: usize| nodes[i % nodes.len()].ws_url();
        let mut one = connected(&url(0), "alice", "tab-1").await;
        let mut two = connected(&url(1), "alice", "tab-2").await;
        let (mut bob, _) = Client::connect_url(&url(0), "bob", &[]).await;

        for n in 0..3 {
            let ack = bob
                .request(json!({"type": "hub:send", "id": "s", "to": "alice", "payload": n}))
                .await;
            assert_eq!(ack["type"], "hub:delivery_ack", "{ack}");
            assert_ne!(ack["status"], "rejected", "{ack}");
            for tab in [&mut one, &mut two] {
                let m = message(tab).await;
                assert_eq!(
                    (m["payload"].as_i64(), m["from"].as_str()),
                    (Some(n), Some("bob")),
                    "{m}"
                );
            }
        }
        // To one device: that device alone.
        let ack = bob
            .request(json!({"type": "hub:send", "id": "s", "to": "alice/tab-2", "payload": "two"}))
            .await;
        assert_ne!(ack["status"], "rejected", "{ack}");
        assert_eq!(message(&mut two).await["payload"], "two");
        // Tab one heard nothing of it: its next frame is the next send.
        bob.request(json!({"type": "hub:send", "id": "s", "to": "alice", "payload": "all"}))
            .await;
        assert_eq!(message(&mut one).await["payload"], "all");
        assert_eq!(message(&mut two).await["payload"], "all");
    }
}

async fn the_same_device_replaces_itself_and_a_user_holds_at_most_its_limit(engine: Engine) {
    let nodes = nodes(&engine, engine.config()).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    let mut one = connected(&url(0), "carol", "phone").await;
    let _two = connected(&url(1), "carol", "laptop").await;
    let _three = connected(&url(0), "carol", "tablet").await;

    // A fourth device is one too many (user_connection_limit = 3)...
    let (mut fourth, answer) = tab(&url(1), "carol", Some("watch")).await;
    assert_eq!(answer["type"], "hub:error", "{answer}");
    assert_eq!(answer["code"], "too_many_user_connections", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("carol"),
        "{answer}"
    );
    fourth.expect_nothing_pending().await;

    // ...but the phone connecting again replaces its own session.
    let again = connected(&url(1), "carol", "phone").await;
    let (_, code) = one.until_close().await;
    assert_eq!(code, 4500, "the phone's older session is replaced");
    drop(again);

    // Bad devices are refused by name.
    for (device, says) in [("a/b", "`/`"), ("", "empty")] {
        let (_, answer) = tab(&url(0), "carol", Some(device)).await;
        assert_eq!(answer["code"], "invalid_field", "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
}

/// The addresses of the next two `kind` frames `c` gets, in address order.
async fn two(c: &mut Client, kind: &str) -> [String; 2] {
    let mut heard = [c.expect(kind).await, c.expect(kind).await]
        .map(|f| f["address"].as_str().unwrap_or_default().to_owned());
    heard.sort();
    heard
}

/// Says goodbye (`hub:disconnect`, no grace) and reads to the close.
async fn goodbye(mut c: Client) {
    c.send(json!({"type": "hub:disconnect"})).await;
    c.until_close().await;
}

async fn a_users_watchers_hear_it_come_online_once_and_go_offline_once(engine: Engine) {
    let nodes = nodes(&engine, engine.config()).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    let (mut erin, _) = Client::connect_url(&url(1), "erin", &[]).await;
    for address in ["frank", "frank/phone"] {
        let ack = erin
            .request(json!({"type": "hub:watch", "id": "w", "address": address}))
            .await;
        assert_eq!(
            (ack["type"].as_str(), ack["online"].as_bool()),
            (Some("hub:watch_ack"), Some(false)),
            "{ack}"
        );
    }
    let phone = connected(&url(0), "frank", "phone").await;
    // The user and its phone came online: one frame each, in either order.
    assert_eq!(two(&mut erin, "hub:online").await, ["frank", "frank/phone"]);
    // More connections of an online user, and their goodbyes: nothing.
    let laptop = connected(&url(1), "frank", "laptop").await;
    let (own, answer) = tab(&url(0), "frank", None).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    goodbye(own).await;
    goodbye(laptop).await;
    let watched = erin
        .request(json!({"type": "hub:watch", "id": "again", "address": "frank"}))
        .await;
    assert_eq!(watched["online"], true, "{watched}");
    // The last one leaves: the phone's and the user's offline, once each.
    goodbye(phone).await;
    assert_eq!(
        two(&mut erin, "hub:offline").await,
        ["frank", "frank/phone"]
    );
    erin.expect_nothing_pending().await;
}

const KEY: &str = "backend-key-0123456789abcdef";

async fn the_api_lists_a_users_connections_and_disconnects_all_but_one(engine: Engine) {
    use hub_server::api::keys::Scope;
    let mut config = engine.config();
    config.api_keys = vec![hub_server::api::keys::ApiKeyConfig {
        name: "backend".into(),
        key: KEY.into(),
        scopes: vec![Scope::Disconnect, Scope::Read],
    }];
    let nodes = nodes(&engine, config).await;
    let url = |i: usize| nodes[i % nodes.len()].ws_url();
    let (mut own, answer) = tab(&url(1), "dave", None).await;
    assert_eq!(answer["address"], "dave", "{answer}");
    let mut phone = connected(&url(0), "dave", "phone").await;
    let mut laptop = connected(&url(1), "dave", "laptop").await;
    let (mut erin, _) = Client::connect_url(&url(0), "erin", &[]).await;

    let post = |body: Value| {
        let node = &nodes[0];
        async move {
            let answer = http(
                node,
                "POST",
                "/api/disconnect",
                Some(KEY),
                Some(&body.to_string()),
            )
            .await;
            (answer.status, answer.json())
        }
    };
    let get = |path: String| {
        let node = &nodes[0];
        async move {
            let answer = http(node, "GET", &path, Some(KEY), None).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.json()
        }
    };

    // Each connection with the node that holds it, asked of any node.
    let mut ids = Vec::new();
    for node in &nodes {
        let answer = http(node, "GET", "/api/node", Some(KEY), None).await;
        ids.push(answer.json()["node_id"].as_str().unwrap().to_owned());
    }
    let id = |i: usize| ids[i % ids.len()].clone();
    let held = get("/api/connections?user=dave".into()).await;
    let expected = json!({"connections": [
        {"address": "dave", "node": id(1)},
        {"address": "dave/laptop", "node": id(1)},
        {"address": "dave/phone", "node": id(0)},
    ]});
    assert_eq!(held, expected);
    assert_eq!(
        get("/api/connections?user=nobody".into()).await,
        json!({"connections": []})
    );

    let answer = post(json!({"user": "dave", "keep": "dave/laptop", "code": "kicked"})).await;
    assert_eq!(answer, (200, json!({"disconnected": true})));
    for c in [&mut own, &mut phone] {
        let (frames, code) = c.until_close().await;
        assert_eq!(code, 4502, "{frames:?}");
    }
    // The kept one and another user stay.
    for c in [&mut laptop, &mut erin] {
        let pong = c.request(json!({"type": "hub:ping", "id": "p"})).await;
        assert_eq!(pong["type"], "hub:pong", "{pong}");
    }
    // Closed sessions release their addresses (a moment after the close).
    let left = json!({"connections": [{"address": "dave/laptop", "node": id(1)}]});
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let held = get("/api/connections?user=dave".into()).await;
        if held == left {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {held}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Bad requests say which field.
    for (body, says) in [
        (
            json!({"address": "dave", "user": "dave"}),
            "one of `address`",
        ),
        (
            json!({"address": "dave", "keep": "dave/laptop"}),
            "`keep` goes with `user`",
        ),
        (json!({"user": ""}), "user"),
    ] {
        let (status, answer) = post(body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
}

on_every_engine!(
    a_users_tabs_stay_side_by_side_and_each_gets_what_is_sent_to_the_user,
    the_same_device_replaces_itself_and_a_user_holds_at_most_its_limit,
    the_api_lists_a_users_connections_and_disconnects_all_but_one,
    a_users_watchers_hear_it_come_online_once_and_go_offline_once,
);
