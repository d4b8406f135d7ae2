//! The TypeScript client (clients/typescript, its built `dist/`) in a real
//! headless Chromium against a real hub-server: publish and subscribe,
//! request/reply both ways, reconnect with recovery after a disconnect and
//! none after a kick, stored messages acknowledged, the token refreshed
//! without a reconnect (topics granted by the application:
//! `browser_topics.rs`), and a bounded offline queue across a server killed
//! with SIGKILL and started again.

mod common;

use common::browser::{client_page, connect, Browser};
use common::pages::Pages;
use common::*;
use hub_core::protocol::CloseCode;
use serde_json::{json, Value};

fn history_config() -> hub_server::ServerConfig {
    let mut config = test_config();
    let feed = hub_core::permissions::NamespaceOptions {
        history_size: 100,
        ..Default::default()
    };
    config.hub.namespaces.insert("feed".into(), feed);
    config
}

#[tokio::test]
async fn publishes_subscribes_and_answers_requests_both_ways() {
    let server = start_default();
    let (_pages, browser) = client_page(&server.ws_url()).await;
    connect(&browser, "web", "").await;
    let (mut rust, _) = Client::connect(&server, "rust").await;
    rust.subscribe("room").await;
    browser
        .js("await hub.subscribe('room', (m) => got.push(m.payload)).ready;")
        .await;

    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    for n in 1..=3 {
        assert_eq!(publisher.publish("room", json!(n)).await, 2);
    }
    let got = browser
        .js("return await until(() => got.length >= 3 && got, 'three publications');")
        .await;
    assert_eq!(got, json!([1, 2, 3]));
    let published = browser
        .js("return await hub.publish('room', {from: 'web'});")
        .await;
    assert_eq!(published["recipients"], 2, "{published}");
    for expected in [json!(1), json!(2), json!(3), json!({"from": "web"})] {
        assert_eq!(rust.next_frame().await["payload"], expected);
    }

    // The browser answers a request from Rust...
    browser
        .js("hub.on('message', (m) => { if (m.correlation_id) hub.reply(m, {echo: m.payload}); });")
        .await;
    rust.send(json!({"type": "hub:send", "id": "q", "to": "web", "payload": "ping", "correlation_id": "c-1"}))
        .await;
    let mut reply = None;
    for _ in 0..3 {
        let frame = rust.next_frame().await;
        if frame["type"] == "hub:message" {
            reply = Some(frame);
            break;
        }
    }
    let reply = reply.expect("a reply");
    assert_eq!(
        (reply["in_reply_to"].clone(), reply["payload"].clone()),
        (json!("c-1"), json!({"echo": "ping"}))
    );

    // ...and Rust answers one from the browser.
    browser
        .js("window.answer = hub.request('rust', {question: 42}); window.answer.catch(() => {});")
        .await;
    let request = loop {
        let frame = rust.next_frame().await;
        if frame["type"] == "hub:message" {
            break frame;
        }
    };
    assert_eq!(request["payload"], json!({"question": 42}));
    let correlation = request["correlation_id"]
        .as_str()
        .expect("a correlation_id")
        .to_owned();
    rust.send(json!({"type": "hub:send", "to": "web", "payload": {"answer": 42}, "in_reply_to": correlation, "ack": false}))
        .await;
    let answer = browser.js("return (await window.answer).payload;").await;
    assert_eq!(answer, json!({"answer": 42}));
    let direct = browser.js("return direct.length;").await;
    assert_eq!(
        direct, 1,
        "the reply went to request(), not to the message event"
    );
    browser.close().await;
}

#[tokio::test]
async fn reconnects_and_recovers_after_a_disconnect_but_not_after_a_kick() {
    let server = start(history_config());
    let (_pages, browser) = client_page(&server.ws_url()).await;
    connect(&browser, "web", "").await;
    browser
        .js("await hub.subscribe('feed:news', (m) => got.push(m.payload)).ready;")
        .await;
    let (mut rust, _) = Client::connect(&server, "rust").await;
    rust.publish("feed:news", json!(1)).await;
    browser
        .js("await until(() => got.length === 1, 'the first publication');")
        .await;

    assert!(server
        .hub
        .disconnect("web", CloseCode::Disconnected)
        .await
        .unwrap());
    // Published while the client is away (or just back): none missed, none twice.
    for n in 2..=4 {
        rust.publish("feed:news", json!(n)).await;
    }
    let got = browser
        .js("return await until(() => got.length >= 4 && got, 'every publication');")
        .await;
    assert_eq!(got, json!([1, 2, 3, 4]));
    let events = browser
        .js("return await until(() => events.some((e) => e.name === 'resubscribed') && events, 'resubscribed');")
        .await;
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["connected", "disconnected", "connected", "resubscribed"],
        "{events}"
    );
    assert_eq!(events[1]["code"], 4008);
    assert_eq!(events[1]["reconnect"], true);
    assert_eq!(events[2]["resumed"], true);
    assert_eq!(events[3]["topic"], "feed:news");

    assert!(server
        .hub
        .disconnect("web", CloseCode::Kicked)
        .await
        .unwrap());
    let last = browser
        .js("return await until(() => hub.state === 'closed' && events[events.length - 1], 'closed');")
        .await;
    assert_eq!(
        (last["code"].clone(), last["reconnect"].clone()),
        (json!(4502), json!(false))
    );
    let refused = browser
        .js("try { await hub.publish('feed:news', 5); return 'sent'; } catch (e) { return e.code; }")
        .await;
    assert_eq!(refused, "closed");
    eventually("web goes offline", || server.hub.metrics().registered == 1).await;
    browser.close().await;
}

#[tokio::test]
async fn stored_messages_are_acknowledged_so_they_are_not_replayed() {
    let mut config = test_config();
    config.durability = hub_server::Durability::Memory;
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    connect(&browser, "web", "").await;
    let (mut rust, _) = Client::connect(&server, "rust").await;
    for n in 1..=3 {
        let ack = send(&mut rust, "web", json!(n)).await;
        assert_eq!(ack["status"], "accepted", "{ack}");
    }
    let seqs = browser
        .js("return await until(() => direct.length === 3 && direct.map((m) => [m.seq, m.payload]), 'three messages');")
        .await;
    assert_eq!(seqs, json!([[1, 1], [2, 2], [3, 3]]));
    browser.js("await hub.close();").await;
    // A client that asks for acks gets whatever was not acknowledged: nothing.
    let (mut again, _) = Client::connect_url(&server.ws_url(), "web", &["ack"]).await;
    let ack = send(&mut rust, "web", json!(4)).await;
    // Nothing stored ahead of it, the inbox attached before hub:connected:
    // handed over at once.
    assert_eq!(ack["status"], "accepted", "{ack}");
    let next = again.next_frame().await;
    assert_eq!(
        (next["seq"].clone(), next["payload"].clone()),
        (json!(4), json!(4)),
        "{next}"
    );
    browser.close().await;
}

#[tokio::test]
async fn the_token_is_refreshed_without_a_reconnect() {
    let mut config = test_config();
    config.jwt_hmac_secret = "a-test-secret-of-at-least-32-bytes!".into();
    let mint = |config: &hub_server::ServerConfig| {
        let grants = hub_server::auth::parse_grants(&[], &[]).unwrap();
        hub_server::auth::mint(config, "web", std::time::Duration::from_secs(3), &grants).unwrap()
    };
    let tokens: Vec<String> = (0..4).map(|_| mint(&config)).collect();
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    browser
        .js(&format!("window.tokens = {};", json!(tokens)))
        .await;
    connect(&browser, "web", "getToken: async () => tokens.shift()").await;
    // Two refreshes: the session outlived its first token, on one connection.
    let events = browser
        .js("return await until(() => events.filter((e) => e.name === 'refreshed').length >= 2 && events, 'two refreshes');")
        .await;
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["connected", "refreshed", "refreshed"], "{events}");
    assert_eq!(browser.js("return hub.state;").await, "connected");
    browser.close().await;
}

#[tokio::test]
async fn calls_wait_in_a_bounded_queue_while_the_server_is_down() {
    let dir = TempDir::new("browser-offline");
    let port = free_port();
    let first = Binary::start(&dir, port, &["durability=off"]).await;
    let (_pages, browser) = client_page(&first.url).await;
    connect(&browser, "web", "offlineQueue: 3").await;
    browser
        .js("await hub.subscribe('room', (m) => got.push(m.payload)).ready;")
        .await;
    first.kill_9();
    browser
        .js("await until(() => hub.state === 'reconnecting', 'the client notices');")
        .await;
    let refused = browser
        .js(
            "window.results = [1, 2, 3].map((n) => hub.publish('room', n));\n\
             try { await hub.publish('room', 4); return 'queued'; } catch (e) { return [e.code, hub.queued]; }",
        )
        .await;
    assert_eq!(refused, json!(["offline_queue_full", 3]));
    let _second = Binary::start(&dir, port, &["durability=off"]).await;
    // Back: resubscribed first, then the queued calls, so it hears its own.
    let results: Value = browser
        .js("return (await Promise.all(results)).map((r) => r.recipients);")
        .await;
    assert_eq!(results, json!([1, 1, 1]));
    let got = browser
        .js("return await until(() => got.length >= 3 && got, 'its own publications');")
        .await;
    assert_eq!(got, json!([1, 2, 3]));
    browser.close().await;
}

/// examples/browser-chat: a person joins in the browser, a Rust client in
/// the same room; each sees what the other says.
#[tokio::test]
async fn the_browser_chat_example_chats() {
    let server = start_default();
    let pages = Pages::start();
    let browser = Browser::start().await;
    let url = format!(
        "{}/examples/browser-chat/index.html?hub={}",
        pages.base,
        server.ws_url()
    );
    browser.client.goto(&url).await.unwrap();
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.subscribe("chat-lobby").await;
    browser.type_into("name", "alice").await;
    browser.click("join-button").await;
    browser
        .until_text("messages", "alice is in", |t| {
            t.contains("you joined lobby")
        })
        .await;
    assert_eq!(browser.text("state").await, "connected as alice");
    bob.send(
        json!({"type": "hub:publish", "topic": "chat-lobby", "payload": {"text": "hi alice"}}),
    )
    .await;
    browser
        .until_text("messages", "bob's line shows", |t| {
            t.contains("bobhi alice")
        })
        .await;
    browser.type_into("text", "hello bob").await;
    browser.click("send").await;
    let heard = loop {
        let frame = bob.next_frame().await;
        let from = frame["from"].as_str().unwrap_or_default();
        if frame["type"] == "hub:message" && from.starts_with("alice/") {
            break frame;
        }
    };
    assert_eq!(heard["payload"], json!({"text": "hello bob"}));
    browser
        .until_text("messages", "alice's own line shows", |t| {
            t.contains("alicehello bob")
        })
        .await;
    if let Ok(path) = std::env::var("CHAT_SCREENSHOT") {
        browser.screenshot(std::path::Path::new(&path)).await;
    }
    browser.close().await;
}

/// The SSE transport in a real browser: an `EventSource` on the hub (from
/// another origin), commands by `fetch` POST, and the browser's own
/// reconnect with `Last-Event-ID` recovering what it missed.
#[tokio::test]
async fn an_event_source_receives_posts_and_recovers_after_its_own_reconnect() {
    let mut config = history_config();
    // A stream whose client went away is noticed at the next keepalive.
    config.hub.heartbeat_interval_ms = 200;
    let server = start(config);
    let (_pages, browser) = client_page(&server.ws_url()).await;
    browser
        .js(
            "const base = HUB.replace('ws://', 'http://').replace(/\\/ws$/, '');\n\
             window.got = []; window.types = [];\n\
             window.es = new EventSource(base + '/sse?address=web&subscribe=feed:news');\n\
             es.addEventListener('hub:session', (e) => { window.commands = base + JSON.parse(e.data).commands; });\n\
             es.onmessage = (e) => { const f = JSON.parse(e.data); types.push(f.type); if (f.type === 'hub:message') got.push(f.payload); };\n\
             await until(() => types.includes('hub:subscribe_ack'), 'subscribed');",
        )
        .await;
    let (mut rust, _) = Client::connect(&server, "rust").await;
    rust.subscribe("feed:news").await;
    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    publisher.publish("feed:news", json!(1)).await;
    browser
        .js("await until(() => got.length === 1, 'the first publication');")
        .await;
    assert_eq!(rust.next_frame().await["payload"], 1);

    let status = browser
        .js("const r = await fetch(commands, {method: 'POST', body: JSON.stringify({type: 'hub:publish', id: 'p', topic: 'feed:news', payload: 'from the page'})}); return r.status;")
        .await;
    assert_eq!(status, 202);
    let heard = rust.next_frame().await;
    assert_eq!(
        (heard["from"].clone(), heard["payload"].clone()),
        (json!("web"), json!("from the page"))
    );

    assert!(server
        .hub
        .disconnect("web", CloseCode::Disconnected)
        .await
        .unwrap());
    for n in 2..=3 {
        publisher.publish("feed:news", json!(n)).await;
    }
    let got = browser
        .js("return await until(() => got.length >= 4 && got, 'the missed ones, after the browser reconnected');")
        .await;
    assert_eq!(got, json!([1, "from the page", 2, 3]));
    let connects = browser
        .js("return types.filter((t) => t === 'hub:connected').length;")
        .await;
    assert_eq!(connects, 2, "one reconnect, by the EventSource itself");
    browser.js("es.close();").await;
    browser.close().await;
}
