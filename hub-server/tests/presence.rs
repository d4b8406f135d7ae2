//! Presence over real sockets: a topic's members (`hub:presence`, pages in
//! address order with each token's `info`; `hub:presence_stats`), the
//! `hub:join` / `hub:leave` its listeners hear, and watching an address come
//! online and go offline (`hub:watch`): exactly one `hub:offline` when the
//! grace window ends, none for a reconnect within it, at once after
//! `hub:disconnect`; all permissioned.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::engines::Engine;
use common::*;
use hub_core::permissions::{DirectOptions, NamespaceOptions, Policy};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const SECRET: &str = "presence-test-secret-long-enough";

/// `room`: tracks presence, members hear joins and leaves; `plain`: no
/// presence. Addresses whose session drops stay online for `grace_ms`.
fn presence_config(
    mut config: hub_server::ServerConfig,
    grace_ms: u64,
) -> hub_server::ServerConfig {
    config.hub.offline_grace_ms = grace_ms;
    config.hub.max_watches_per_session = 3;
    let room = NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config
        .hub
        .namespaces
        .insert("plain".into(), NamespaceOptions::default());
    config
}

async fn watch(c: &mut Client, address: &str) -> bool {
    let ack = c
        .request(json!({"type": "hub:watch", "id": "w", "address": address}))
        .await;
    assert_eq!(ack["type"], "hub:watch_ack", "{ack}");
    assert_eq!(
        (ack["id"].as_str(), ack["address"].as_str()),
        (Some("w"), Some(address))
    );
    ack["online"].as_bool().expect("online in the ack")
}

/// Says goodbye (`hub:disconnect`) and reads to the close.
async fn goodbye(mut c: Client) {
    c.send(json!({"type": "hub:disconnect"})).await;
    c.until_close().await;
}

async fn a_watcher_hears_online_once_and_offline_once_and_nothing_for_a_quick_reconnect(
    engine: Engine,
) {
    // A grace far longer than a local reconnect takes.
    let server = engine.start(presence_config(engine.config(), 5_000)).await;
    let (mut watcher, _) = Client::connect(&server, "watcher").await;
    assert!(
        !watch(&mut watcher, "bob").await,
        "bob is not connected yet"
    );

    let (bob, _) = Client::connect(&server, "bob").await;
    let online = watcher.expect("hub:online").await;
    assert_eq!(online["address"], "bob");

    // Dropped (no close frame, no goodbye) and back, five times over:
    // nobody hears of it.
    drop(bob);
    for _ in 0..4 {
        let (again, _) = Client::connect(&server, "bob").await;
        drop(again);
    }
    let (bob, _) = Client::connect(&server, "bob").await;
    assert!(
        watch(&mut watcher, "bob").await,
        "still online: the ack says so"
    );

    // A goodbye ends it at once: exactly one offline, then nothing.
    goodbye(bob).await;
    let offline = watcher.expect("hub:offline").await;
    assert_eq!(offline["address"], "bob");
    watcher.expect_nothing_pending().await;
    assert!(!watch(&mut watcher, "bob").await);

    // Back online: one online event.
    let (_bob, _) = Client::connect(&server, "bob").await;
    assert_eq!(watcher.expect("hub:online").await["address"], "bob");
    watcher.expect_nothing_pending().await;
}

async fn a_dropped_address_goes_offline_once_when_its_grace_ends(engine: Engine) {
    let server = engine.start(presence_config(engine.config(), 300)).await;
    let (mut watcher, _) = Client::connect(&server, "watcher").await;
    let (mut other, _) = Client::connect(&server, "other").await;
    assert!(!watch(&mut watcher, "carol").await);
    assert!(!watch(&mut other, "carol").await);
    let (carol, _) = Client::connect(&server, "carol").await;
    watcher.expect("hub:online").await;
    other.expect("hub:online").await;
    drop(carol);
    // Each watcher hears exactly one offline once the grace has run.
    for c in [&mut watcher, &mut other] {
        let offline = c.expect("hub:offline").await;
        assert_eq!(offline["address"], "carol");
    }
    // The grace has ended (the event says so); nothing follows it.
    watcher.expect_nothing_pending().await;
    other.expect_nothing_pending().await;
    assert!(!watch(&mut watcher, "carol").await);
}

async fn an_eviction_keeps_the_address_online_and_unwatch_stops_the_events(engine: Engine) {
    let server = engine.start(presence_config(engine.config(), 300)).await;
    let (mut watcher, _) = Client::connect(&server, "watcher").await;
    let (_first, _) = Client::connect(&server, "dora").await;
    assert!(watch(&mut watcher, "dora").await);
    let (second, _) = Client::connect(&server, "dora").await;
    // The first session is evicted (4500) and the second holds the address:
    // watchers hear nothing.
    watcher.expect_nothing_pending().await;
    let ack = watcher
        .request(json!({"type": "hub:unwatch", "id": "u", "address": "dora"}))
        .await;
    assert_eq!(
        (ack["type"].as_str(), ack["id"].as_str()),
        (Some("hub:unwatch_ack"), Some("u"))
    );
    assert!(ack.get("online").is_none(), "{ack}");
    goodbye(second).await;
    watcher.expect_nothing_pending().await;
    // Unwatching what is not watched is acknowledged too.
    let ack = watcher
        .request(json!({"type": "hub:unwatch", "id": "u2", "address": "nobody"}))
        .await;
    assert_eq!(ack["type"], "hub:unwatch_ack");
}

async fn watches_are_capped_per_session_and_bad_names_refused(engine: Engine) {
    let server = engine.start(presence_config(engine.config(), 300)).await;
    let (mut c, _) = Client::connect(&server, "w").await;
    for a in ["a", "b", "c", "a"] {
        watch(&mut c, a).await;
    }
    let refused = c
        .request(json!({"type": "hub:watch", "id": 9, "address": "d"}))
        .await;
    assert_eq!(refused["code"], "too_many_watches", "{refused}");
    assert_eq!(refused["id"], 9);
    let refused = c
        .request(json!({"type": "hub:watch", "id": 10, "address": ""}))
        .await;
    assert_eq!(refused["code"], "invalid_field", "{refused}");
    let refused = c.request(json!({"type": "hub:watch", "id": 11})).await;
    assert_eq!(refused["code"], "missing_field", "{refused}");
    c.request(json!({"type": "hub:unwatch", "id": "u", "address": "a"}))
        .await;
    watch(&mut c, "d").await;
}

async fn subscribe(c: &mut Client, topic: &str) {
    c.send(json!({"type": "hub:subscribe", "id": "s", "topic": topic}))
        .await;
    // Joins of others may come first; the ack is what we wait for.
    loop {
        let f = c.next_frame().await;
        if f["id"] == "s" {
            assert_eq!(f["type"], "hub:subscribe_ack", "{f}");
            return;
        }
        assert_eq!(f["type"], "hub:join", "{f}");
    }
}

fn addresses(page: &Value) -> Vec<&str> {
    page["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["address"].as_str().unwrap())
        .collect()
}

async fn members_are_listed_in_pages_counted_and_heard_joining_and_leaving(engine: Engine) {
    let server = engine.start(presence_config(engine.config(), 5_000)).await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    subscribe(&mut alice, "room:1").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    subscribe(&mut bob, "room:1").await;
    let (mut carol, _) = Client::connect(&server, "carol").await;
    subscribe(&mut carol, "room:1").await;
    for who in ["bob", "carol"] {
        let join = alice.expect("hub:join").await;
        assert_eq!(
            (join["topic"].as_str(), join["address"].as_str()),
            (Some("room:1"), Some(who))
        );
    }
    assert_eq!(bob.expect("hub:join").await["address"], "carol");
    carol.expect_nothing_pending().await;

    let page = alice
        .request(json!({"type": "hub:presence", "id": 1, "topic": "room:1", "limit": 2}))
        .await;
    assert_eq!(page["type"], "hub:presence_ack", "{page}");
    assert_eq!(addresses(&page), ["alice", "bob"]);
    assert_eq!(page["next"], "bob");
    let page = alice
        .request(json!({"type": "hub:presence", "id": 2, "topic": "room:1", "after": "bob"}))
        .await;
    assert_eq!(addresses(&page), ["carol"]);
    assert!(page.get("next").is_none(), "{page}");
    let stats = alice
        .request(json!({"type": "hub:presence_stats", "id": 3, "topic": "room:1"}))
        .await;
    assert_eq!(
        (stats["type"].as_str(), stats["members"].as_u64()),
        (Some("hub:presence_stats_ack"), Some(3))
    );

    // An unsubscribe is a leave at once.
    let ack = carol
        .request(json!({"type": "hub:unsubscribe", "id": "u", "topic": "room:1"}))
        .await;
    assert_eq!(ack["type"], "hub:unsubscribe_ack");
    for c in [&mut alice, &mut bob] {
        let leave = c.expect("hub:leave").await;
        assert_eq!(leave["address"], "carol");
    }

    // Bob's connection drops and he is back within the grace: no one hears.
    drop(bob);
    let (mut bob, _) = Client::connect(&server, "bob").await;
    subscribe(&mut bob, "room:1").await;
    alice.expect_nothing_pending().await;
    let stats = alice
        .request(json!({"type": "hub:presence_stats", "id": 4, "topic": "room:1"}))
        .await;
    assert_eq!(stats["members"], 2);

    // A goodbye is a leave at once.
    goodbye(bob).await;
    assert_eq!(alice.expect("hub:leave").await["address"], "bob");
    alice.expect_nothing_pending().await;
    let page = alice
        .request(json!({"type": "hub:presence", "id": 5, "topic": "room:1"}))
        .await;
    assert_eq!(addresses(&page), ["alice"]);

    // A topic no one is in has no members; one without presence refuses.
    let page = alice
        .request(json!({"type": "hub:presence", "id": 6, "topic": "room:empty"}))
        .await;
    assert_eq!(
        (page["type"].as_str(), addresses(&page).len()),
        (Some("hub:presence_ack"), 0)
    );
    let refused = alice
        .request(json!({"type": "hub:presence", "id": 7, "topic": "plain:x"}))
        .await;
    assert_eq!(refused["code"], "presence_disabled", "{refused}");
    let refused = alice
        .request(json!({"type": "hub:presence", "id": 8, "topic": "room:1", "limit": 0}))
        .await;
    assert_eq!(
        (refused["code"].as_str(), refused["id"].as_u64()),
        (Some("invalid_field"), Some(8))
    );
}

async fn a_dropped_member_leaves_once_when_its_grace_ends(engine: Engine) {
    let server = engine.start(presence_config(engine.config(), 300)).await;
    let (mut alice, _) = Client::connect(&server, "alice").await;
    subscribe(&mut alice, "room:2").await;
    let (mut dan, _) = Client::connect(&server, "dan").await;
    subscribe(&mut dan, "room:2").await;
    assert_eq!(alice.expect("hub:join").await["address"], "dan");
    drop(dan);
    let leave = alice.expect("hub:leave").await;
    assert_eq!(
        (leave["topic"].as_str(), leave["address"].as_str()),
        (Some("room:2"), Some("dan"))
    );
    alice.expect_nothing_pending().await;
    let stats = alice
        .request(json!({"type": "hub:presence_stats", "id": 1, "topic": "room:2"}))
        .await;
    assert_eq!(stats["members"], 1);
}

fn token(sub: &str, grants: Value, info: Value) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": sub, "exp": exp, "grants": grants, "info": info});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

async fn connect_with(
    server: &hub_server::SpawnedServer,
    sub: &str,
    grants: Value,
    info: Value,
) -> Client {
    let mut c = Client::open(server).await;
    let frame =
        json!({"type": "hub:connect", "id": 0, "address": sub, "token": token(sub, grants, info)});
    let answer = c.request(frame).await;
    assert_eq!(answer["type"], "hub:connected", "{answer}");
    c
}

#[actix_rt::test]
async fn presence_shows_the_tokens_info_and_needs_the_presence_and_watch_rights() {
    let mut config = test_config();
    config.jwt_hmac_secret = SECRET.into();
    let room = NamespaceOptions {
        track_presence: true,
        join_leave: true,
        ..NamespaceOptions::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    config.hub.direct = DirectOptions {
        watch: Policy::Granted,
        ..DirectOptions::default()
    };
    let server = start(config);
    let seer = json!({"topics": {"room:*": ["subscribe", "presence"]}, "addresses": {"friend-*": ["watch"]}});
    let blind = json!({"topics": {"room:*": ["subscribe"]}});
    let mut ann = connect_with(&server, "ann", seer, json!({"name": "Ann", "color": "red"})).await;
    subscribe(&mut ann, "room:a").await;
    let mut ben = connect_with(&server, "ben", blind, json!({"name": "Ben"})).await;
    subscribe(&mut ben, "room:a").await;

    let join = ann.expect("hub:join").await;
    assert_eq!(
        (join["address"].as_str(), &join["info"]),
        (Some("ben"), &json!({"name": "Ben"}))
    );
    let page = ann
        .request(json!({"type": "hub:presence", "id": 1, "topic": "room:a"}))
        .await;
    assert_eq!(
        page["members"],
        json!([
            {"address": "ann", "info": {"name": "Ann", "color": "red"}},
            {"address": "ben", "info": {"name": "Ben"}},
        ])
    );

    // Without the presence right: no events, and presence is refused.
    let refused = ben
        .request(json!({"type": "hub:presence_stats", "id": 2, "topic": "room:a"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["hint"].as_str().unwrap().contains("presence"),
        "{refused}"
    );
    let refused = ben
        .request(json!({"type": "hub:watch", "id": 3, "address": "ann"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    assert!(
        refused["hint"].as_str().unwrap().contains("watch"),
        "{refused}"
    );

    // The watch right covers friend-* only.
    assert!(!watch(&mut ann, "friend-1").await);
    let refused = ann
        .request(json!({"type": "hub:watch", "id": 4, "address": "ben"}))
        .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    goodbye(ann).await;
    ben.expect_nothing_pending().await;
}

// One test per engine of each: memory, redb and Redis.
on_every_engine!(
    a_watcher_hears_online_once_and_offline_once_and_nothing_for_a_quick_reconnect,
    a_dropped_address_goes_offline_once_when_its_grace_ends,
    an_eviction_keeps_the_address_online_and_unwatch_stops_the_events,
    watches_are_capped_per_session_and_bad_names_refused,
    members_are_listed_in_pages_counted_and_heard_joining_and_leaving,
    a_dropped_member_leaves_once_when_its_grace_ends,
);
