//! Webhooks on the Redis engine: a user's `user_online` and
//! `user_offline`, and a topic's `occupied` and `vacated`, are decided once
//! in Redis and posted once in the hub, by the node whose change decided
//! it — also when the node that held the last of them dies (SIGKILL):
//! another node finds its claim run out and posts it, with a
//! `disconnected` (`node_lost`) for each session that died with it.

mod common;

use std::collections::HashSet;

use common::backend::{Backend, Reply};
use common::redis::{eventually_ready, node_config, Redis};
use common::*;
use serde_json::json;

const SECRET: &str = "webhook-secret-of-at-least-32-bytes!";

/// Distinct events (by id) of `event` about `user`.
fn count(backend: &Backend, user: &str, event: &str) -> usize {
    let posts = backend.posts();
    let ids: HashSet<_> = posts
        .iter()
        .filter(|p| p.body["user"] == user && p.body["event"] == event)
        .map(|p| p.body["id"].to_string())
        .collect();
    ids.len()
}

/// Waits (at most 30 s: a dead node's claims run out after 6 s, found by
/// the next sweep) until `probe` holds.
async fn after_the_sweep(what: &str, probe: impl Fn() -> bool) {
    for _ in 0..600 {
        if probe() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// Distinct events (by id) of `event` about `topic`.
fn topic_count(backend: &Backend, topic: &str, event: &str) -> usize {
    let posts = backend.posts();
    let ids: HashSet<_> = posts
        .iter()
        .filter(|p| p.body["topic"] == topic && p.body["event"] == event)
        .map(|p| p.body["id"].to_string())
        .collect();
    ids.len()
}

/// Two nodes on one Redis, posting to `backend`: one a process to kill,
/// one in this test.
async fn two_nodes(
    redis: &Redis,
    backend: &Backend,
) -> (TempDir, Binary, hub_server::SpawnedServer) {
    let prefix = "hooks:";
    let dir = TempDir::new("webhooks-redis");
    let hook = format!("webhook_url={}", backend.url_of("/hooks"));
    let secret = format!("webhook_secret={SECRET}");
    let url = format!("redis_url={}", redis.url());
    let prefix_set = format!("redis_prefix={prefix}");
    let settings = [
        "engine=redis",
        url.as_str(),
        prefix_set.as_str(),
        "durability=memory",
        hook.as_str(),
        secret.as_str(),
        "registration_ttl_ms=6000",
        "offline_grace_ms=0",
    ];
    let doomed = Binary::start(&dir, free_port(), &settings).await;
    doomed.until_ready().await;
    let mut config = node_config(redis, prefix);
    config.webhooks.webhook_url = backend.url_of("/hooks");
    config.webhooks.webhook_secret = SECRET.into();
    config.hub.registration_ttl_ms = 6_000;
    config.hub.offline_grace_ms = 0;
    let survivor = start(config);
    eventually_ready(&survivor).await;
    (dir, doomed, survivor)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_online_and_offline_are_posted_once_in_the_hub() {
    let redis = Redis::start().await;
    let backend = Backend::start(Reply::Json("{}".into())).await;
    let (_dir, doomed, survivor) = two_nodes(&redis, &backend).await;
    let (_tab, answer) = Client::connect_url(&doomed.url, "alice/tab1", &[]).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    let (mut phone, _) = Client::connect(&survivor, "alice/phone").await;
    phone
        .request(json!({"type": "hub:disconnect", "id": 2}))
        .await;
    phone.until_close().await;
    eventually("both connects and the phone's disconnect posted", || {
        count(&backend, "alice", "connected") == 2 && count(&backend, "alice", "disconnected") == 1
    })
    .await;
    assert_eq!(
        count(&backend, "alice", "user_offline"),
        0,
        "the tab is still on"
    );

    doomed.kill_9();
    after_the_sweep("alice told offline", || {
        count(&backend, "alice", "user_offline") == 1
    })
    .await;
    // The tab's session ended unseen with its node: told by the survivor,
    // before its user's offline.
    let posts = backend.posts();
    let of_alice: Vec<_> = posts.iter().filter(|p| p.body["user"] == "alice").collect();
    let lost = of_alice
        .iter()
        .position(|p| p.body["reason"] == "node_lost")
        .expect("a node_lost disconnect");
    let offline = of_alice
        .iter()
        .position(|p| p.body["event"] == "user_offline")
        .unwrap();
    assert!(lost < offline, "{of_alice:?}");
    let lost = &of_alice[lost].body;
    assert_eq!(
        (&lost["event"], &lost["address"], &lost["client"]),
        (
            &json!("disconnected"),
            &json!("alice/tab1"),
            &answer["session_id"]
        )
    );
    assert_eq!(
        count(&backend, "alice", "disconnected"),
        2,
        "the phone's and the tab's"
    );
    assert_eq!(
        count(&backend, "alice", "user_online"),
        1,
        "once in the hub"
    );
    // Another sweep finds nothing more to tell.
    let (_bob, _) = Client::connect(&survivor, "bob").await;
    eventually("bob online", || count(&backend, "bob", "user_online") == 1).await;
    assert_eq!(count(&backend, "alice", "user_offline"), 1);
    assert_eq!(count(&backend, "alice", "user_online"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topics_occupied_and_vacated_are_posted_once_in_the_hub() {
    let redis = Redis::start().await;
    let backend = Backend::start(Reply::Json("{}".into())).await;
    let (_dir, doomed, survivor) = two_nodes(&redis, &backend).await;
    let (mut far, _) = Client::connect_url(&doomed.url, "far", &[]).await;
    far.subscribe("room").await;
    let (mut near, _) = Client::connect(&survivor, "near").await;
    near.subscribe("room").await;
    let left = near
        .request(json!({"type": "hub:unsubscribe", "id": 5, "topic": "room"}))
        .await;
    assert_eq!(left["type"], "hub:unsubscribe_ack");
    near.subscribe("lobby").await;
    let left = near
        .request(json!({"type": "hub:unsubscribe", "id": 6, "topic": "lobby"}))
        .await;
    assert_eq!(left["type"], "hub:unsubscribe_ack");
    eventually("lobby occupied and vacated", || {
        topic_count(&backend, "lobby", "vacated") == 1
    })
    .await;
    assert_eq!(topic_count(&backend, "lobby", "occupied"), 1);
    assert_eq!(
        topic_count(&backend, "room", "occupied"),
        1,
        "once, by far's node"
    );
    assert_eq!(
        topic_count(&backend, "room", "vacated"),
        0,
        "far is still in it"
    );

    doomed.kill_9();
    after_the_sweep("room vacated by the survivor's sweep", || {
        topic_count(&backend, "room", "vacated") == 1
    })
    .await;
    let (mut again, _) = Client::connect(&survivor, "again").await;
    again.subscribe("room").await;
    eventually("room occupied again", || {
        topic_count(&backend, "room", "occupied") == 2
    })
    .await;
    assert_eq!(topic_count(&backend, "room", "vacated"), 1);
}

/// A user's own address dies with its node while one of its devices stays
/// on another: the lost session is told `disconnected`, the user is not
/// told offline — until its last device leaves, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_user_with_a_device_left_is_not_told_offline_when_a_node_dies() {
    let redis = Redis::start().await;
    let backend = Backend::start(Reply::Json("{}".into())).await;
    let (_dir, doomed, survivor) = two_nodes(&redis, &backend).await;
    let (_own, answer) = Client::connect_url(&doomed.url, "alice", &[]).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    let (mut phone, _) = Client::connect(&survivor, "alice/phone").await;
    eventually("both connects posted", || {
        count(&backend, "alice", "connected") == 2
    })
    .await;

    doomed.kill_9();
    // The phone pings meanwhile, so its own lease (6 s) stays renewed.
    let mut told = false;
    for _ in 0..150 {
        let pong = phone
            .request(json!({"type": "hub:ping", "id": "alive"}))
            .await;
        assert_eq!(pong["type"], "hub:pong", "{pong}");
        let posts = backend.posts();
        told = posts.iter().any(|p| {
            p.body["event"] == "disconnected"
                && p.body["address"] == "alice"
                && p.body["reason"] == "node_lost"
        });
        if told {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        told,
        "the own address's session told lost: {:?}",
        backend.posts()
    );
    // An event of alice's queued after the sweep's: posted behind whatever
    // the sweep told of her (one user's events go in order).
    phone.subscribe("after").await;
    eventually("the phone's subscribe posted", || {
        count(&backend, "alice", "subscribed") == 1
    })
    .await;
    assert_eq!(
        count(&backend, "alice", "user_offline"),
        0,
        "the phone is still on"
    );

    phone
        .request(json!({"type": "hub:disconnect", "id": 2}))
        .await;
    phone.until_close().await;
    eventually("alice offline with her last device", || {
        count(&backend, "alice", "user_offline") == 1
    })
    .await;
    assert_eq!(count(&backend, "alice", "user_online"), 1);
    // Another sweep finds nothing more to tell.
    let (_bob, _) = Client::connect(&survivor, "bob").await;
    eventually("bob online", || count(&backend, "bob", "user_online") == 1).await;
    assert_eq!(count(&backend, "alice", "user_offline"), 1);
}
