//! Bad input gets an error frame with a stable code, a message and a hint;
//! it never closes the session (unless documented) and never disturbs others.

mod common;

use common::*;
use serde_json::json;

fn assert_error(frame: &serde_json::Value, code: &str) {
    assert_eq!(frame["type"], "hub:error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert!(!frame["message"].as_str().unwrap().is_empty());
    assert!(!frame["hint"].as_str().unwrap().is_empty());
    assert!(frame["temporary"].is_boolean());
}

/// Each kind of malformed frame gets its own code; the session and a
/// bystander's traffic carry on unharmed.
#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_session_survives() {
    let server = start_default();
    let (mut bad, _) = Client::connect(&server, "bad").await;
    let (mut bystander, _) = Client::connect(&server, "ok").await;
    bystander.subscribe("t").await;

    let cases: Vec<(String, &str)> = vec![
        ("{not json".into(), "bad_json"),
        ("[1,2,3]".into(), "bad_json"),
        ("\"hub:send\"".into(), "bad_json"),
        (json!({"id": 1}).to_string(), "missing_type"),
        (json!({"type": 5}).to_string(), "bad_json"),
        (
            json!({"type": "hub:teleport", "id": 2}).to_string(),
            "unknown_type",
        ),
        (
            json!({"type": "hub:send", "payload": 1}).to_string(),
            "missing_field",
        ),
        (
            json!({"type": "hub:send", "to": "ok"}).to_string(),
            "missing_field",
        ),
        (
            json!({"type": "hub:send", "to": 7, "payload": 1}).to_string(),
            "invalid_field",
        ),
        (
            json!({"type": "hub:send", "to": "", "payload": 1}).to_string(),
            "invalid_field",
        ),
        (
            json!({"type": "hub:subscribe"}).to_string(),
            "missing_field",
        ),
        (
            json!({"type": "hub:subscribe", "topic": "x".repeat(300)}).to_string(),
            "invalid_field",
        ),
        (
            json!({"type": "hub:publish", "topic": "bad\u{7}name", "payload": 1}).to_string(),
            "invalid_field",
        ),
        (
            json!({"type": "hub:connect", "address": "again"}).to_string(),
            "already_connected",
        ),
    ];
    for (text, code) in cases {
        bad.send_text(text.clone()).await;
        let f = bad.next_frame().await;
        assert_error(&f, code);
    }
    // An array is not an object read by position: `[1, 2]` has no id, and
    // `["hub:ping", 5]` is not a ping.
    for text in ["[1, 2]", "[\"hub:ping\", 5]"] {
        bad.send_text(text.into()).await;
        let f = bad.next_frame().await;
        assert_error(&f, "bad_json");
        assert!(f.get("id").is_none(), "{text} answered {f}");
    }
    bad.send_binary(vec![1, 2, 3]).await;
    assert_error(&bad.next_frame().await, "binary_not_supported");

    // The bad session still works, and the bystander saw nothing but real traffic.
    assert_eq!(bad.publish("t", json!("still here")).await, 1);
    assert_eq!(
        bystander.expect("hub:message").await["payload"],
        "still here"
    );
    bystander.expect_nothing_pending().await;
}

/// The error echoes the request id when the frame had a readable one.
#[tokio::test]
async fn errors_echo_the_request_id() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "a").await;
    let f = c.request(json!({"type": "hub:nope", "id": "req-7"})).await;
    assert_error(&f, "unknown_type");
    assert_eq!(f["id"], "req-7");
}

/// Anything but connect and ping before `hub:connect` is refused with `not_connected`.
#[tokio::test]
async fn requests_before_connect_are_refused_not_connected() {
    let server = start_default();
    let mut c = Client::open(&server).await;
    for frame in [
        json!({"type": "hub:send", "id": 1, "to": "x", "payload": 1}),
        json!({"type": "hub:publish", "id": 2, "topic": "t", "payload": 1}),
        json!({"type": "hub:subscribe", "id": 3, "topic": "t"}),
        json!({"type": "hub:broadcast", "id": 4, "to": "*", "payload": 1}),
    ] {
        let id = frame["id"].clone();
        let f = c.request(frame).await;
        assert_error(&f, "not_connected");
        assert_eq!(f["id"], id);
        assert!(f["hint"].as_str().unwrap().contains("hub:connect"));
    }
    c.send(json!({"type": "hub:connect", "address": "late"}))
        .await;
    c.expect("hub:connected").await;
}

/// A frame over `max_message_bytes` is refused from its header with
/// `message_too_large`, then the session closes with 4004; others are untouched.
#[tokio::test]
async fn oversized_frame_is_refused_with_message_too_large() {
    let mut config = test_config();
    config.hub.max_message_bytes = 1024;
    let server = start(config);
    let (mut big, _) = Client::connect(&server, "big").await;
    let (mut other, _) = Client::connect(&server, "other").await;
    let payload = "x".repeat(2000);
    big.send(json!({"type": "hub:send", "to": "other", "payload": payload}))
        .await;
    let (frames, code) = big.until_close().await;
    assert_error(&frames[0], "message_too_large");
    assert_eq!(frames[1]["type"], "hub:disconnect");
    assert_eq!(frames[1]["reason"], "message_too_large");
    assert_eq!(frames[1]["reconnect"], true);
    assert_eq!(code, 4004);
    other.expect_nothing_pending().await;
    // Just under the limit passes.
    let (mut ok, _) = Client::connect(&server, "ok").await;
    let ack = ok
        .request(json!({"type": "hub:send", "to": "other", "payload": "y".repeat(900)}))
        .await;
    assert_eq!(ack["status"], "accepted");
}

/// Over the rate limit a frame is refused with `hub:rate_limited` and
/// `retry_after_ms`; the session stays open, and after that wait it is served.
#[tokio::test]
async fn rate_limit_refuses_with_retry_after_and_keeps_the_session() {
    let mut config = test_config();
    config.hub.rate_limit_per_sec = 1;
    config.hub.rate_limit_burst = 4;
    let server = start(config);
    let (mut c, connected) = Client::connect(&server, "chatty").await;
    assert_eq!(connected["limits"]["rate_limit_per_sec"], 1);
    // Written back to back: hub:connect took one of the burst of four, three
    // publishes take the rest, the fourth is refused (refilling one slot
    // would take a full second).
    for i in 0..4 {
        c.send(json!({"type": "hub:publish", "id": i, "topic": "t", "payload": i}))
            .await;
    }
    for i in 0..3 {
        let ack = c.next_frame().await;
        assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
        assert_eq!(ack["id"], i);
    }
    let limited = c.next_frame().await;
    assert_eq!(limited["type"], "hub:rate_limited");
    assert_eq!(limited["code"], "rate_limited");
    assert_eq!(limited["id"], 3);
    let retry = limited["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 1001, "retry_after_ms = {retry}");
    assert!(limited["hint"].as_str().unwrap().contains("retry_after_ms"));
    // Waiting as advised is enough to be served again.
    tokio::time::sleep(std::time::Duration::from_millis(retry)).await;
    c.expect_nothing_pending().await;
}

/// `max_topics_per_session` and `max_subscribers_per_topic` answer with their own codes.
#[tokio::test]
async fn subscription_caps_answer_with_clear_errors() {
    let mut config = test_config();
    config.hub.max_topics_per_session = 2;
    config.hub.max_subscribers_per_topic = 1;
    let server = start(config);
    let (mut a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    a.subscribe("one").await;
    a.subscribe("two").await;
    a.subscribe("two").await; // already subscribed: acked, not counted twice
    let f = a
        .request(json!({"type": "hub:subscribe", "id": 1, "topic": "three"}))
        .await;
    assert_error(&f, "too_many_topics");
    let f = b
        .request(json!({"type": "hub:subscribe", "id": 2, "topic": "one"}))
        .await;
    assert_error(&f, "topic_full");
    assert_eq!(f["temporary"], true);
}

/// `max_registered` answers a connect with `registry_full`; the session may retry.
#[tokio::test]
async fn registry_cap_refuses_connect_with_registry_full() {
    let mut config = test_config();
    config.hub.max_registered = 2;
    let server = start(config);
    let (_a, _) = Client::connect(&server, "a").await;
    let (_b, _) = Client::connect(&server, "b").await;
    let mut c = Client::open(&server).await;
    let f = c
        .request(json!({"type": "hub:connect", "id": 1, "address": "c"}))
        .await;
    assert_error(&f, "registry_full");
    // Replacing a live address is not growth: it evicts instead of failing.
    let (_b2, _) = Client::connect(&server, "b").await;
}

/// Past `max_connections`, the upgrade is refused with HTTP 503 and
/// `connection_limit_reached`; a freed slot is reusable.
#[tokio::test]
async fn connection_cap_refuses_the_upgrade_with_503() {
    let mut config = test_config();
    config.hub.max_connections = 2;
    let server = start(config);
    let (_a, _) = Client::connect(&server, "a").await;
    let (mut b, _) = Client::connect(&server, "b").await;
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("connection_limit_reached"), "{body}");
        }
        other => panic!("expected HTTP 503, got {other:?}"),
    }
    b.send(json!({"type": "hub:disconnect"})).await;
    b.until_close().await;
    eventually("the slot is released", || {
        metric(&server, |m| m.connections) == 1
    })
    .await;
    let (_c, _) = Client::connect(&server, "c").await;
}

/// A text frame that is not UTF-8 breaks the WebSocket protocol: the session
/// is closed with RFC 6455's 1007 (terminal for the SDKs) and nothing else;
/// others are untouched.
#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    let server = start_default();
    let (mut broken, _) = Client::connect(&server, "broken").await;
    let (mut other, _) = Client::connect(&server, "other").await;
    broken.send_invalid_utf8().await;
    let (frames, code) = broken.until_close().await;
    assert_eq!(code, 1007);
    assert!(
        frames.is_empty(),
        "no hub:disconnect for an RFC close: {frames:?}"
    );
    other.expect_nothing_pending().await;
}

/// Every name is checked alike wherever it appears: an address inside a
/// broadcast list, a topic to unsubscribe from.
#[tokio::test]
async fn names_are_validated_alike_everywhere() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "namer").await;
    let (_other, _) = Client::connect(&server, "fine").await;
    let f = c
        .request(
            json!({"type": "hub:broadcast", "id": 1, "to": ["fine", "bad\u{1}name"], "payload": 1}),
        )
        .await;
    assert_error(&f, "invalid_field");
    assert_eq!(f["id"], 1);
    let f = c
        .request(json!({"type": "hub:broadcast", "id": 2, "to": ["fine", ""], "payload": 1}))
        .await;
    assert_error(&f, "invalid_field");
    let f = c
        .request(json!({"type": "hub:unsubscribe", "id": 3, "topic": ""}))
        .await;
    assert_error(&f, "invalid_field");
    assert_eq!(f["id"], 3);
    let f = c
        .request(json!({"type": "hub:unsubscribe", "id": 4, "topic": "x".repeat(300)}))
        .await;
    assert_error(&f, "invalid_field");
    // A refused broadcast delivered nothing, not even to the valid address.
    c.expect_nothing_pending().await;
}

/// A field of the wrong type is `invalid_field`, answered with the request's id.
#[tokio::test]
async fn a_field_of_the_wrong_type_is_invalid_field_with_the_id() {
    let server = start_default();
    let (mut c, _) = Client::connect(&server, "typer").await;
    for frame in [
        json!({"type": "hub:subscribe", "id": 11, "topic": 5}),
        json!({"type": "hub:publish", "id": 12, "topic": true, "payload": 1}),
        json!({"type": "hub:send", "id": 13, "to": "x", "payload": 1, "ack": "no"}),
        json!({"type": "hub:send", "id": 14, "to": "x", "payload": 1, "correlation_id": 9}),
    ] {
        let id = frame["id"].clone();
        let f = c.request(frame).await;
        assert_error(&f, "invalid_field");
        assert_eq!(f["id"], id);
    }
}
