//! The browser chat example and the admin page in a real headless
//! Chromium at a phone's width (420 px) and a desktop's (1280 px): nothing
//! wider than the window, the chat filling it, and a chat tab whose
//! address another tab took says so and stops taking input. With
//! `SCREENSHOTS=dir`, each writes its PNGs there (the README's pictures:
//! `SCREENSHOTS=docs/img cargo test -p hub-server --test layouts`).

mod common;

use common::browser::Browser;
use common::pages::Pages;
use common::*;
use hub_server::api::keys::{ApiKeyConfig, Scope};
use serde_json::json;

const WIDTHS: [u32; 2] = [1280, 420];

/// Whether the page is wider than the window (a horizontal scroll bar).
async fn overflows(browser: &Browser) -> serde_json::Value {
    browser
        .js("return { page: document.documentElement.scrollWidth, window: window.innerWidth };")
        .await
}

async fn at_width(browser: &Browser, width: u32, name: &str) {
    browser.client.set_window_size(width, 900).await.unwrap();
    // Let the page lay itself out (and the charts redraw) at this width.
    browser
        .js("await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));")
        .await;
    let sizes = overflows(browser).await;
    assert!(
        sizes["page"].as_u64() <= sizes["window"].as_u64(),
        "{name} at {width} px is wider than the window: {sizes}"
    );
    if let Ok(dir) = std::env::var("SCREENSHOTS") {
        // A relative directory is the repository's (tests run in hub-server/).
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let path = root.join(dir).join(format!("{name}-{width}.png"));
        browser.screenshot(&path).await;
    }
}

#[tokio::test]
async fn the_chat_fits_each_width_and_an_evicted_tab_says_why() {
    let server = start_default();
    let pages = Pages::start();
    let browser = Browser::start().await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.subscribe("chat-lobby").await;
    // This tab is alice's device `tab-1`.
    let hub = server.ws_url();
    browser
        .join_chat(&pages, &hub, "&device=tab-1", "alice")
        .await;
    for text in [
        "hi alice, welcome to the lobby",
        "the hub is up: try a second tab",
    ] {
        let line = json!({"type": "hub:publish", "topic": "chat-lobby", "payload": {"text": text}});
        bob.send(line).await;
    }
    browser
        .until_text("messages", "bob's lines show", |t| t.contains("second tab"))
        .await;
    // The chat fills the window: its bottom is the window's.
    let filled = browser
        .js(
            "const r = document.getElementById('chat').getBoundingClientRect(); \
             return Math.round(r.bottom) >= window.innerHeight - 1;",
        )
        .await;
    assert_eq!(filled, json!(true), "the chat does not fill the window");
    for width in WIDTHS {
        at_width(&browser, width, "browser-chat").await;
    }

    // The same device from elsewhere: this tab is closed for good (4500).
    let mut other_alice = Client::open_url(&hub).await;
    let connect = json!({"type": "hub:connect", "address": "alice", "device": "tab-1"});
    other_alice.send(connect).await;
    assert_eq!(other_alice.next_frame().await["type"], "hub:connected");
    browser
        .until_text("ended", "the tab says why", |t| t.contains("same device"))
        .await;
    assert!(
        browser.attr("text", "disabled").await.is_some(),
        "input still enabled"
    );
    assert!(
        browser.attr("send", "disabled").await.is_some(),
        "send still enabled"
    );
    assert!(browser.text("state").await.contains("duplicate_connection"));
    for width in WIDTHS {
        at_width(&browser, width, "browser-chat-evicted").await;
    }
    other_alice.expect_nothing_pending().await;
    browser.close().await;
}

#[tokio::test]
async fn the_admin_page_fits_each_width() {
    const KEY: &str = "admin-token-0123456789abcdef";
    let mut config = test_config();
    config.api_keys = vec![ApiKeyConfig {
        name: "admin".into(),
        key: KEY.into(),
        scopes: vec![Scope::Read],
    }];
    let server = start(config);
    let (mut alice, _) = Client::connect(&server, "alice").await;
    alice.subscribe("room").await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("http://{}/admin", server.addr))
        .await
        .unwrap();
    browser.type_into("token", KEY).await;
    browser.click("sign-in").await;
    browser
        .until_text("connections", "the figures load", |t| t == "1")
        .await;
    // A few samples on the charts before the pictures.
    browser
        .js("await new Promise((r) => setTimeout(r, 3000));")
        .await;
    for width in WIDTHS {
        at_width(&browser, width, "admin").await;
        let canvas = browser
            .js("const c = document.getElementById('chart-sessions'); \
                 return { css: c.clientWidth, drawn: c.width / (window.devicePixelRatio || 1) };")
            .await;
        assert_eq!(
            canvas["css"], canvas["drawn"],
            "the chart is drawn at its width: {canvas}"
        );
    }
    browser.close().await;
}
