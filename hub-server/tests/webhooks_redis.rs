//! Webhooks on the Redis engine: a user's `user_online` and
//! `user_offline` are decided once in Redis and posted once in the hub, by
//! the node whose call decided it — also when the node that held the
//! user's last connection dies (SIGKILL): another node finds its lease run
//! out and posts the offline.

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

#[tokio::test(flavor = "multi_thread")]
async fn a_users_online_and_offline_are_posted_once_in_the_hub() {
    let redis = Redis::start().await;
    let backend = Backend::start(Reply::Json("{}".into())).await;
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
        "registration_ttl_ms=2000",
        "offline_grace_ms=0",
    ];
    let doomed = Binary::start(&dir, free_port(), &settings).await;
    doomed.until_ready().await;
    let mut config = node_config(&redis, prefix);
    config.webhooks.webhook_url = backend.url_of("/hooks");
    config.webhooks.webhook_secret = SECRET.into();
    config.hub.registration_ttl_ms = 2_000;
    config.hub.offline_grace_ms = 0;
    let survivor = start(config);
    eventually_ready(&survivor).await;

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
    eventually("alice told offline", || {
        count(&backend, "alice", "user_offline") == 1
    })
    .await;
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
