//! hub-client's subscription tokens against the real server: the provider
//! is asked for a topic's token at subscribe and whenever the server asks
//! for a fresh one, so the subscription outlives each token; a provider
//! with no fresh token lets the topic go (`Event::Unsubscribed`, the
//! stream ends).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hub_client::{Client, Event};
use serde_json::json;

const SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn hs(claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).unwrap()
}

/// A client of `user` whose connection token grants `grants`.
fn builder_for(
    server: &hub_server::SpawnedServer,
    user: &str,
    grants: serde_json::Value,
) -> hub_client::ClientBuilder {
    let token = hs(&json!({"sub": user, "exp": now() + 600, "grants": grants}));
    Client::builder(server.ws_url())
        .address(user)
        .token(token)
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
}

#[tokio::test]
async fn the_provider_keeps_a_private_topic_and_its_absence_ends_it() {
    let mut config = server_config();
    config.jwt_hmac_secret = SECRET.into();
    config.jwt_leeway_ms = 0;
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    let server = start(config);
    let app = builder_for(&server, "app", json!({"topics": {"room:*": ["publish"]}}))
        .connect()
        .await
        .unwrap();

    // room:1's tokens live 5 s (a second's lead to refresh) and are always
    // renewed; room:2 gets one.
    let asked: Arc<[AtomicUsize; 2]> = Arc::default();
    let counts = asked.clone();
    let alice = builder_for(&server, "alice", json!({}))
        .subscription_token_provider(move |topic: String| {
            let room = usize::from(topic == "room:2");
            let n = counts[room].fetch_add(1, Ordering::SeqCst);
            let token = (room == 0 || n == 0)
                .then(|| hs(&json!({"sub": "alice", "topic": topic, "exp": now() + 5})));
            std::future::ready(token)
        })
        .connect()
        .await
        .unwrap();
    let mut events = alice.events().await;
    let mut one = alice.subscribe::<String>("room:1").await.unwrap();
    let mut two = alice.subscribe::<String>("room:2").await.unwrap();

    // room:2's only token runs out: the server ends it, the stream ends.
    let ended = wait_event(&mut events, "unsubscribed", |e| {
        matches!(e, Event::Unsubscribed { .. })
    })
    .await;
    assert_eq!(
        ended,
        Event::Unsubscribed {
            topic: "room:2".into(),
            reason: "token_expired".into()
        }
    );
    assert!(within("room:2's end", two.next()).await.is_none());

    // room:1 outlived its first token on fresh ones.
    app.publish("room:1", &"still").await.unwrap();
    let m = within("room:1's message", one.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload, "still");
    assert!(
        asked[0].load(Ordering::SeqCst) >= 2,
        "a fresh token was asked for"
    );
}

/// A topic the server subscribes the client to (its token's `channels`):
/// announced as `Event::Subscribed`, its publications as
/// `Event::Publication`.
#[tokio::test]
async fn server_side_subscriptions_come_as_events() {
    let mut config = server_config();
    config.jwt_hmac_secret = SECRET.into();
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    let server = start(config);
    let app = builder_for(&server, "app", json!({"topics": {"room:*": ["publish"]}}))
        .connect()
        .await
        .unwrap();
    let token = hs(&json!({"sub": "bob", "exp": now() + 600, "channels": ["room:lobby"]}));
    let bob = Client::builder(server.ws_url())
        .address("bob")
        .token(token)
        .connect()
        .await
        .unwrap();
    let mut events = bob.events().await;
    let joined = wait_event(&mut events, "subscribed", |e| {
        matches!(e, Event::Subscribed { .. })
    })
    .await;
    assert_eq!(
        joined,
        Event::Subscribed {
            topic: "room:lobby".into()
        }
    );
    app.publish("room:lobby", &"hello").await.unwrap();
    let Event::Publication(publication) = wait_event(&mut events, "publication", |e| {
        matches!(e, Event::Publication(_))
    })
    .await
    else {
        unreachable!()
    };
    assert_eq!(
        (
            publication.topic.as_str(),
            publication.from.as_str(),
            publication.payload.get()
        ),
        ("room:lobby", "app", "\"hello\"")
    );
}
