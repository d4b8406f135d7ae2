//! The browser chat example with one user in two tabs of one Chromium:
//! each tab is a device of the user, so neither evicts the other, both
//! hear the room, and what one tab says shows in the other as the user's.

mod common;

use common::browser::Browser;
use common::pages::Pages;
use common::*;
use serde_json::json;

#[tokio::test]
async fn one_user_chats_from_two_tabs_and_neither_is_evicted() {
    let server = start_default();
    let pages = Pages::start();
    let browser = Browser::start().await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    bob.subscribe("chat-lobby").await;

    let first = browser.client.window().await.unwrap();
    browser
        .join_chat(&pages, &server.ws_url(), "", "alice")
        .await;
    let second = browser.client.new_window(true).await.unwrap().handle;
    browser
        .client
        .switch_to_window(second.clone())
        .await
        .unwrap();
    browser
        .join_chat(&pages, &server.ws_url(), "", "alice")
        .await;

    bob.send(json!({"type": "hub:publish", "topic": "chat-lobby", "payload": {"text": "hi both"}}))
        .await;
    browser.type_into("text", "from tab two").await;
    browser.click("send").await;
    let heard = loop {
        let f = bob.next_frame().await;
        if f["type"] == "hub:message" && f["payload"]["text"] == "from tab two" {
            break f;
        }
    };
    let from = heard["from"].as_str().unwrap();
    assert!(from.starts_with("alice/tab-"), "a device of alice: {from}");

    for tab in [second, first] {
        browser.client.switch_to_window(tab).await.unwrap();
        let said = browser
            .until_text("messages", "both lines in each tab", |t| {
                t.contains("bobhi both") && t.contains("alicefrom tab two")
            })
            .await;
        assert!(!said.contains("joined again"), "{said}");
        assert_eq!(browser.text("state").await, "connected as alice");
        assert!(
            browser.attr("ended", "hidden").await.is_some(),
            "a tab says it ended"
        );
        assert!(
            browser.attr("text", "disabled").await.is_none(),
            "input disabled"
        );
    }
    browser.close().await;
}
