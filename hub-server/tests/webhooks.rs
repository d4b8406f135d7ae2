//! Webhooks against a real HTTP backend started by the test: the hub's
//! lifecycle events (connected, disconnected, user online and offline,
//! occupied and vacated, subscribed and unsubscribed) are posted signed
//! (HMAC-SHA256 over `<timestamp>.<body>`), in order per user, each with
//! an id that a retry repeats; a failing backend gets them again until it
//! takes them, a dead one never holds a client up, and with the queue on
//! disk what was not delivered outlives a restart.

mod common;

use std::collections::HashSet;

use common::backend::{Backend, Post, Reply};
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

const SECRET: &str = "webhook-secret-of-at-least-32-bytes!";

fn config(backend: &Backend) -> hub_server::ServerConfig {
    let mut config = test_config();
    config.webhooks.webhook_url = backend.url_of("/hooks");
    config.webhooks.webhook_secret = SECRET.into();
    config.webhooks.webhook_retry_min_ms = 50;
    config.webhooks.webhook_retry_max_ms = 200;
    config.hub.offline_grace_ms = 0;
    config
}

/// Checks a post's signature and id headers against its body.
fn check_signed(post: &Post) {
    let timestamp = &post.headers["signal-hub-timestamp"];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", post.raw).as_bytes());
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(post.headers["signal-hub-signature"], expected, "{post:?}");
    assert_eq!(
        post.headers["signal-hub-event-id"], post.body["id"],
        "{post:?}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sent: u64 = timestamp.parse().unwrap();
    assert!(
        sent.abs_diff(now) < 300,
        "a fresh timestamp: {sent} vs {now}"
    );
    assert_eq!(post.headers["content-type"], "application/json");
}

/// The event names posted about `key` (a user, or a topic), each id once
/// (its first post), in order.
fn events_of(backend: &Backend, key: &str) -> Vec<Value> {
    let mut seen = HashSet::new();
    backend
        .posts()
        .into_iter()
        .filter(|p| p.body["user"] == key || (p.body["user"].is_null() && p.body["topic"] == key))
        .filter(|p| seen.insert(p.body["id"].to_string()))
        .map(|p| p.body["event"].clone())
        .collect()
}

/// The events of a user with one connection that came and went.
fn one_connection() -> Vec<Value> {
    ["user_online", "connected", "disconnected", "user_offline"]
        .map(Value::from)
        .to_vec()
}

async fn until_events(backend: &Backend, key: &str, n: usize) -> Vec<Value> {
    eventually(&format!("{n} events about {key}"), || {
        events_of(backend, key).len() >= n
    })
    .await;
    events_of(backend, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_arrive_signed_and_in_order_per_user() {
    let backend = Backend::start(Reply::Json("{}".into())).await;
    let server = start(config(&backend));
    let mut alice = Client::open(&server).await;
    let connected = alice
        .request(json!({"type": "hub:connect", "id": 1, "address": "alice", "device": "tab1"}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    alice.subscribe("lobby").await;
    let left = alice
        .request(json!({"type": "hub:unsubscribe", "id": 3, "topic": "lobby"}))
        .await;
    assert_eq!(left["type"], "hub:unsubscribe_ack");
    alice
        .request(json!({"type": "hub:disconnect", "id": 4}))
        .await;

    let events = until_events(&backend, "alice", 6).await;
    assert_eq!(
        events,
        json!([
            "user_online",
            "connected",
            "subscribed",
            "unsubscribed",
            "disconnected",
            "user_offline"
        ])
        .as_array()
        .unwrap()
        .clone()
    );
    let topic = until_events(&backend, "lobby", 2).await;
    assert_eq!(topic, vec![json!("occupied"), json!("vacated")]);

    let posts = backend.posts();
    let ids: HashSet<_> = posts.iter().map(|p| p.body["id"].to_string()).collect();
    assert_eq!(ids.len(), posts.len(), "each event once, with its own id");
    for post in &posts {
        check_signed(post);
    }
    let of = |event: &str| {
        posts
            .iter()
            .find(|p| p.body["event"] == event && p.body["user"] == "alice")
            .map(|p| p.body.clone())
            .unwrap()
    };
    let connected_event = of("connected");
    assert_eq!(connected_event["address"], "alice/tab1");
    assert_eq!(connected_event["client"], connected["session_id"]);
    assert_eq!(
        (&of("subscribed")["topic"], &of("subscribed")["by"]),
        (&json!("lobby"), &json!("client"))
    );
    assert_eq!(of("unsubscribed")["reason"], "client");
    assert_eq!(of("disconnected")["reason"], "normal");
    assert!(of("user_offline")["at_ms"].as_u64().unwrap() > 0);
}

/// A backend that fails (500) gets each event again, with the same id and
/// body, until it takes it; the order holds.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_backend_gets_each_event_again_in_order() {
    let backend = Backend::start(Reply::Status(500)).await;
    let server = start(config(&backend));
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.request(json!({"type": "hub:disconnect", "id": 9}))
        .await;
    eventually("three failed posts", || backend.posts().len() >= 3).await;
    backend.set(Reply::Json("{}".into()));
    let events = until_events(&backend, "bob", 4).await;
    assert_eq!(events, one_connection());
    let posts = backend.posts();
    let first = &posts[0];
    let again: Vec<_> = posts
        .iter()
        .filter(|p| p.body["id"] == first.body["id"])
        .collect();
    assert!(again.len() >= 3, "retried: {again:?}");
    for post in &again {
        assert_eq!(post.raw, first.raw, "the same body on every retry");
        check_signed(post);
    }
    let scraped = http(&server, "GET", "/metrics", None, None).await.body;
    assert!(
        scraped.contains(r#"signal_hub_webhook_events_total{outcome="delivered"} 4"#),
        "{scraped}"
    );
    assert!(
        !scraped.contains("signal_hub_webhook_failures_total 0"),
        "{scraped}"
    );
}

/// A backend that never answers holds no client up: connects go on, and
/// past `webhook_max_queued` new events are dropped and counted.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_backend_never_holds_clients_up() {
    let backend = Backend::start(Reply::Hang).await;
    let mut config = config(&backend);
    config.webhooks.webhook_max_queued = 3;
    config.webhooks.webhook_timeout_ms = 60_000;
    let server = start(config);
    for n in 0..5 {
        let (mut c, answer) = Client::connect(&server, &format!("user{n}")).await;
        assert_eq!(answer["type"], "hub:connected", "{answer}");
        c.subscribe(&format!("room{n}")).await;
    }
    let scraped = http(&server, "GET", "/metrics", None, None).await.body;
    assert!(scraped.contains("signal_hub_webhook_queued 3"), "{scraped}");
    let dropped = scraped
        .lines()
        .find(|l| l.starts_with(r#"signal_hub_webhook_events_total{outcome="dropped"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        dropped >= 10,
        "5 users' other events are dropped: {scraped}"
    );
}

/// With `durability = "disk"`, events the backend did not take are kept
/// in `data_dir` and posted after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn undelivered_events_outlive_a_restart() {
    let backend = Backend::start(Reply::Status(503)).await;
    let dir = TempDir::new("webhooks");
    let mut config = config(&backend);
    config.durability = hub_server::Durability::Disk;
    config.data_dir = dir.0.display().to_string();
    let server = start(config.clone());
    let (mut carol, _) = Client::connect(&server, "carol").await;
    carol
        .request(json!({"type": "hub:disconnect", "id": 2}))
        .await;
    carol.until_close().await;
    let mut queued = String::new();
    for _ in 0..400 {
        queued = http(&server, "GET", "/metrics", None, None).await.body;
        if queued.contains("signal_hub_webhook_queued 4") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(queued.contains("signal_hub_webhook_queued 4"), "{queued}");
    drop(server);
    let first_run: HashSet<_> = backend
        .posts()
        .iter()
        .map(|p| p.body["id"].to_string())
        .collect();
    backend.set(Reply::Json("{}".into()));
    let _again = start(config);
    let events = until_events(&backend, "carol", 4).await;
    assert_eq!(events, one_connection());
    let ids: HashSet<_> = backend
        .posts()
        .iter()
        .filter(|p| p.body["user"] == "carol")
        .map(|p| p.body["id"].to_string())
        .collect();
    assert!(
        first_run.is_subset(&ids),
        "the first run's events, by their ids"
    );
    assert_eq!(ids.len(), 4, "each carol event once, by id: {ids:?}");
}

/// A webhook URL needs a secret of 32 bytes; event names are checked.
#[test]
fn the_keys_are_checked_at_start() {
    let mut config = test_config();
    config.webhooks.webhook_url = "http://127.0.0.1:9/hooks".into();
    config.webhooks.webhook_secret = "short".into();
    let error = refused(config.clone());
    assert!(error.contains("webhook_secret"), "{error}");
    config.webhooks.webhook_secret = SECRET.into();
    config.webhooks.webhook_events = vec!["connected".into(), "exploded".into()];
    let error = refused(config);
    assert!(
        error.contains("webhook_events") && error.contains("exploded"),
        "{error}"
    );
}

fn refused(config: hub_server::ServerConfig) -> String {
    match hub_server::spawn(config) {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

/// A node killed (SIGKILL) with users online: at its restart each session
/// is told disconnected and each user offline, once (`reason:
/// node_restart`), from what the queue kept on disk.
#[tokio::test(flavor = "multi_thread")]
async fn users_online_at_a_crash_go_offline_once_at_the_restart() {
    let backend = Backend::start(Reply::Json("{}".into())).await;
    let dir = TempDir::new("webhooks-kill");
    let port = free_port();
    let url = format!("webhook_url={}", backend.url_of("/hooks"));
    let secret = format!("webhook_secret={SECRET}");
    let settings = [url.as_str(), secret.as_str(), "durability=disk"];
    let hub = Binary::start(&dir, port, &settings).await;
    let (_dave, dave) = Client::connect_url(&hub.url, "dave", &[]).await;
    let (_erin, _) = Client::connect_url(&hub.url, "erin/phone", &[]).await;
    until_events(&backend, "dave", 2).await;
    until_events(&backend, "erin", 2).await;
    hub.kill_9();
    let _hub = Binary::start(&dir, port, &settings).await;
    for user in ["dave", "erin"] {
        let events = until_events(&backend, user, 4).await;
        assert_eq!(events, one_connection(), "{user}");
        let last: Vec<_> = backend
            .posts()
            .into_iter()
            .filter(|p| p.body["user"] == user && p.body["reason"] == "node_restart")
            .collect();
        assert_eq!(last.len(), 2, "{user}: {last:?}");
        check_signed(&last[0]);
    }
    let gone = backend
        .posts()
        .into_iter()
        .find(|p| p.body["user"] == "dave" && p.body["event"] == "disconnected")
        .unwrap();
    assert_eq!(gone.body["client"], dave["session_id"]);
    assert_eq!(gone.body["address"], "dave");
}
