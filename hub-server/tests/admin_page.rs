//! `/admin` in a real headless Chromium against a real hub-server: the page
//! signs in with an API key, its figures and charts move with the traffic
//! real WebSocket clients make, it lists topics with their subscribers, finds
//! an address and disconnects it (the client gets close 4008), and publishes
//! a test message that subscribers receive.

mod common;

use common::browser::Browser;
use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};
use serde_json::json;

const ADMIN: &str = "admin-token-0123456789abcdef";
const READ_ONLY: &str = "read-only-token-0123456789";

fn server() -> hub_server::SpawnedServer {
    use Scope::*;
    let mut config = test_config();
    config.api_keys = vec![
        ApiKeyConfig {
            name: "admin".into(),
            key: ADMIN.into(),
            scopes: vec![Read, Publish, Disconnect],
        },
        ApiKeyConfig {
            name: "watcher".into(),
            key: READ_ONLY.into(),
            scopes: vec![Read],
        },
    ];
    start(config)
}

fn page(server: &hub_server::SpawnedServer) -> String {
    format!("http://{}/admin", server.addr)
}

async fn sign_in(browser: &Browser, server: &hub_server::SpawnedServer, token: &str) {
    browser.client.goto(&page(server)).await.unwrap();
    browser.type_into("token", token).await;
    browser.click("sign-in").await;
}

#[tokio::test]
async fn the_admin_page_watches_and_acts_through_the_api() {
    let server = server();
    let browser = Browser::start().await;

    // A wrong token is refused, with the API's reason.
    sign_in(&browser, &server, "not-a-key-at-all-0000").await;
    browser
        .until_text("login-error", "the refusal is shown", |t| {
            t.contains("unauthorized") && t.contains("api_keys") && !t.contains("hub:connect")
        })
        .await;

    sign_in(&browser, &server, ADMIN).await;
    browser
        .until_text("connections", "the figures load", |t| t == "0")
        .await;

    // Traffic: two subscribers and a publisher, over real sockets.
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let (mut publisher, _) = Client::connect(&server, "publisher").await;
    alice.subscribe("room").await;
    bob.subscribe("room").await;
    browser
        .until_text("connections", "three connections", |t| t == "3")
        .await;
    browser
        .until_text("registered", "three addresses", |t| t == "3")
        .await;

    // The chart of rates moves while publications flow.
    let flowing = async {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            for _ in 0..20 {
                publisher
                    .send(json!({"type": "hub:publish", "topic": "room", "payload": 1}))
                    .await;
            }
            let last = browser
                .attr("chart-rates", "data-last")
                .await
                .unwrap_or_default();
            let rates: Vec<f64> = serde_json::from_str(&last).unwrap_or_default();
            if rates.first().is_some_and(|p| *p > 0.0) && rates.get(1).is_some_and(|d| *d > 0.0) {
                return rates;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the rates chart never moved: {last}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    let rates = flowing.await;
    assert!(
        rates[1] >= rates[0],
        "each publication reaches two: {rates:?}"
    );
    let sessions: Vec<f64> =
        serde_json::from_str(&browser.attr("chart-sessions", "data-last").await.unwrap()).unwrap();
    assert_eq!(
        sessions,
        vec![3.0, 3.0],
        "connections and addresses charted"
    );

    // Topics with their subscribers.
    let topics = browser
        .until_text("topic-rows", "room is listed", |t| t.contains("room"))
        .await;
    assert!(topics.contains("room 2"), "{topics}");

    // Find alice, disconnect her: her client gets 4008.
    browser.type_into("find-address", "alice").await;
    browser.click("find").await;
    browser
        .until_text("find-result", "alice is found", |t| t == "alice is online")
        .await;
    browser.click("disconnect").await;
    let (_, code) = alice.until_close().await;
    assert_eq!(code, 4008, "disconnected, may reconnect");
    browser
        .until_text("find-result", "the page says so", |t| {
            t.contains("told to close")
        })
        .await;
    browser
        .until_text("connections", "two left", |t| t == "2")
        .await;

    // A test message reaches bob.
    browser.type_into("publish-topic", "room").await;
    browser
        .type_into("publish-payload", r#"{"from": "the admin page"}"#)
        .await;
    browser.click("publish").await;
    let result = browser
        .until_text("publish-result", "published", |t| {
            t.starts_with("published")
        })
        .await;
    assert!(result.contains("1 subscribers"), "{result}");
    loop {
        let message = bob.next_frame().await;
        if message["payload"]["from"] == "the admin page" {
            break;
        }
    }

    // Bad JSON is caught by the page, not sent.
    browser.type_into("publish-payload", "{not json").await;
    browser.click("publish").await;
    browser
        .until_text("publish-result", "bad JSON refused", |t| {
            t.contains("not JSON")
        })
        .await;

    if let Ok(path) = std::env::var("ADMIN_SCREENSHOT") {
        browser.screenshot(std::path::Path::new(&path)).await;
    }
    browser.close().await;
}

/// A key that may only read sees the figures; disconnecting is refused with
/// the API's reason, and the client stays connected.
#[tokio::test]
async fn a_read_only_token_watches_but_cannot_act() {
    let server = server();
    let browser = Browser::start().await;
    let (mut carol, _) = Client::connect(&server, "carol").await;
    sign_in(&browser, &server, READ_ONLY).await;
    browser
        .until_text("connections", "the figures load", |t| t == "1")
        .await;
    browser.type_into("find-address", "carol").await;
    browser.click("find").await;
    browser
        .until_text("find-result", "carol is found", |t| t == "carol is online")
        .await;
    browser.click("disconnect").await;
    browser
        .until_text("find-result", "refused", |t| t.contains("forbidden"))
        .await;
    let pong = carol.request(json!({"type": "hub:ping", "id": "p"})).await;
    assert_eq!(pong["type"], "hub:pong", "still connected: {pong}");
    browser.close().await;
}

/// The page and its files come from the binary, with a policy that allows
/// only them.
#[tokio::test]
async fn the_page_is_served_from_the_binary_with_a_strict_policy() {
    let server = server();
    for (path, kind) in [
        ("/admin", "text/html"),
        ("/admin/admin.js", "text/javascript"),
        ("/admin/admin.css", "text/css"),
    ] {
        let answer = http(&server, "GET", path, None, None).await;
        assert_eq!(answer.status, 200, "{path}");
        let header = |name: &str| answer.headers.get(name).cloned().unwrap_or_default();
        assert!(
            header("content-type").starts_with(kind),
            "{path}: {answer:?}"
        );
        assert!(
            header("content-security-policy").contains("script-src 'self'"),
            "{path}"
        );
        assert!(!answer.body.contains(ADMIN), "no secret in the page");
    }
}
