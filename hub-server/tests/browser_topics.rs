//! The TypeScript client in a real headless Chromium with topics the
//! application grants: a private topic kept on fresh subscription tokens
//! (and lost without one), and the server's own subscriptions (a token's
//! `channels`) reported as events; and the application's backend answering
//! the page (`rpc`, a publish proxy's refusal).

mod common;

use common::browser::{client_page, connect};
use common::*;
use serde_json::json;

/// A private topic joined with a subscription token: the page's
/// `getSubscriptionToken` is asked at subscribe and again when the hub asks
/// (`hub:sub_refresh`); with no fresh token the topic ends (`unsubscribed`).
#[tokio::test]
async fn a_private_topic_lives_on_fresh_subscription_tokens_and_ends_without() {
    let mut config = test_config();
    let secret = "a-test-secret-of-at-least-32-bytes!";
    config.jwt_hmac_secret = secret.into();
    config.jwt_leeway_ms = 0;
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    let grants = hub_server::auth::parse_grants(&["room:*=publish".into()], &[]).unwrap();
    let publisher =
        hub_server::auth::mint(&config, "app", std::time::Duration::from_secs(600), &grants)
            .unwrap();
    let connection = hub_server::auth::mint(
        &config,
        "web",
        std::time::Duration::from_secs(600),
        &hub_server::auth::parse_grants(&[], &[]).unwrap(),
    )
    .unwrap();
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let for_topic = |topic: &str, secs: u64| {
        let claims = json!({"sub": "web", "topic": topic, "exp": now + secs});
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    // Minted once the browser is up (its start may take seconds under
    // load): the first tokens leave a second's lead for the refresh.
    // room:1's fresh tokens last longer; room:2 gets only its first.
    let tokens = json!({"room:1": [for_topic("room:1", 5), for_topic("room:1", 60), for_topic("room:1", 60)],
        "room:2": [for_topic("room:2", 5)]});
    browser
        .js(&format!("window.tokens = {tokens}; window.asked = [];"))
        .await;
    let options = format!(
        "token: {}, getSubscriptionToken: async (topic) => {{ asked.push(topic); return tokens[topic].shift(); }}",
        json!(connection)
    );
    connect(&browser, "web", &options).await;
    browser
        .js(
            "await hub.subscribe('room:1', (m) => got.push(m.payload)).ready;\n\
             await hub.subscribe('room:2', (m) => got.push(m.payload)).ready;",
        )
        .await;
    let ended = browser
        .js("return await until(() => events.find((e) => e.name === 'unsubscribed'), 'room:2 ends');")
        .await;
    assert_eq!(
        (&ended["topic"], &ended["reason"]),
        (&json!("room:2"), &json!("token_expired"))
    );

    // Past room:1's first token, it still hears publications.
    let mut app = Client::open(&server).await;
    let connected = app
        .request(json!({"type": "hub:connect", "address": "app", "token": publisher}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert_eq!(app.publish("room:1", json!("still")).await, 1);
    assert_eq!(app.publish("room:2", json!("gone")).await, 0);
    let got = browser
        .js("return await until(() => got.length && got, 'room:1 message');")
        .await;
    assert_eq!(got, json!(["still"]));
    let asked = browser.js("return asked;").await;
    let asked_one = asked
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| *t == "room:1")
        .count();
    assert!(asked_one >= 2, "room:1's token was refreshed: {asked}");
    browser.close().await;
}

/// A topic the server subscribes the page's client to (its token's
/// `channels`): the `subscribed` event, then its publications as
/// `publication` events.
#[tokio::test]
async fn server_side_subscriptions_come_as_events() {
    let mut config = test_config();
    let secret = "a-test-secret-of-at-least-32-bytes!";
    config.jwt_hmac_secret = secret.into();
    config
        .hub
        .namespaces
        .insert("room".into(), Default::default());
    let grants = hub_server::auth::parse_grants(&["room:*=publish".into()], &[]).unwrap();
    let ten_minutes = std::time::Duration::from_secs(600);
    let publisher = hub_server::auth::mint(&config, "app", ten_minutes, &grants).unwrap();
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let claims = json!({"sub": "web", "exp": exp, "channels": ["room:lobby"]});
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let token = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    connect(&browser, "web", &format!("token: {}", json!(token))).await;
    browser
        .js(
            "hub.on('publication', (m) => got.push([m.topic, m.payload]));\n\
             return await until(() => events.find((e) => e.name === 'subscribed'), 'subscribed');",
        )
        .await;
    let mut app = Client::open(&server).await;
    let connected = app
        .request(json!({"type": "hub:connect", "address": "app", "token": publisher}))
        .await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert_eq!(app.publish("room:lobby", json!("hello")).await, 1);
    let got = browser
        .js("return await until(() => got.length && got, 'publication');")
        .await;
    assert_eq!(got, json!([["room:lobby", "hello"]]));
    browser.close().await;
}

/// The application's backend in the loop, from the page: `rpc` resolves
/// with its answer or rejects with its refusal's code (`reason`); a
/// publish in a `proxy` namespace is refused the same way.
#[tokio::test]
async fn rpc_and_a_publish_proxy_answer_the_page() {
    use common::backend::{Backend, Reply};
    let backend = Backend::start(Reply::Json(
        json!({"result": {"data": {"greeting": "hello web"}}}).to_string(),
    ))
    .await;
    backend.set_for(
        "/publish",
        Reply::Json(json!({"error": {"code": "muted", "message": "you are muted"}}).to_string()),
    );
    let mut config = test_config();
    config.rpc_proxy_url = backend.url_of("/rpc");
    config.publish_proxy_url = backend.url_of("/publish");
    let room = hub_core::permissions::NamespaceOptions {
        publish: hub_core::permissions::Policy::Proxy,
        ..Default::default()
    };
    config.hub.namespaces.insert("room".into(), room);
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    connect(&browser, "web", "device: 'tab1'").await;
    let answer = browser
        .js("return await hub.rpc('greet', { name: 'web' });")
        .await;
    assert_eq!(answer, json!({"greeting": "hello web"}));
    let posted = backend.posted_to("/rpc");
    assert_eq!(
        (&posted[0]["method"], &posted[0]["data"], &posted[0]["user"]),
        (&json!("greet"), &json!({"name": "web"}), &json!("web"))
    );
    let refused = browser
        .js(
            "try { await hub.publish('room:1', 'hi'); return 'published'; }\n\
             catch (e) { return [e.code, e.reason, e.temporary]; }",
        )
        .await;
    assert_eq!(refused, json!(["refused", "muted", false]));
    browser.close().await;
}
