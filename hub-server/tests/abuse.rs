//! Abuse resistance: a socket must register in time; every frame counts
//! against the rate limit; a flood of refused frames costs the flooder its
//! connection, not the other clients their service.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

/// A socket that never sends `hub:connect` is closed with `connect_timeout`
/// (4005), however many WebSocket pings it sends.
#[tokio::test]
async fn a_socket_that_never_connects_is_closed_pings_or_not() {
    let mut config = test_config();
    config.hub.connect_timeout_ms = 300;
    let server = start(config);
    let mut c = Client::open(&server).await;
    assert_eq!(c.pinging_until_close(Duration::from_millis(50)).await, 4005);
    // A socket that connects in time is not touched by it. (The sleep only
    // lets the timeout pass; nothing is asserted about how long anything took.)
    let (mut ok, _) = Client::connect(&server, "prompt").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    ok.expect_nothing_pending().await;
}

/// Frames that fail to decode, and frames before `hub:connect`, count
/// against the rate limit like any other.
#[tokio::test]
async fn every_frame_counts_against_the_rate_limit() {
    let mut config = test_config();
    config.hub.rate_limit_per_sec = 1;
    config.hub.rate_limit_burst = 3;
    let server = start(config);
    let mut c = Client::open(&server).await;
    for _ in 0..10 {
        c.send_text("{not json".into()).await;
    }
    let mut kinds = Vec::new();
    for _ in 0..10 {
        let f = c.next_frame().await;
        kinds.push(f["type"].as_str().unwrap().to_owned());
        if f["type"] == "hub:error" {
            assert_eq!(f["code"], "bad_json");
        }
    }
    assert_eq!(
        kinds[..3],
        ["hub:error", "hub:error", "hub:error"],
        "the burst"
    );
    assert!(kinds.iter().any(|k| k == "hub:rate_limited"), "{kinds:?}");
}

/// A client flooding malformed frames is closed with `too_many_errors`
/// (4006) once past its error budget; another pair on the same server keeps
/// exchanging messages throughout.
#[tokio::test]
async fn an_error_flood_closes_the_flooder_and_spares_the_others() {
    let mut config = test_config();
    config.hub.max_protocol_errors = 20;
    let server = start(config);
    let (mut alice, _) = Client::connect(&server, "alice").await;
    let (mut bob, _) = Client::connect(&server, "bob").await;
    let (mut flooder, _) = Client::connect(&server, "flooder").await;
    for i in 0..200 {
        let frame = match i % 3 {
            0 => "{not json".to_owned(),
            1 => json!({"type": "hub:teleport"}).to_string(),
            _ => json!({"type": "hub:subscribe", "topic": 5}).to_string(),
        };
        flooder.send_text(frame).await;
    }
    let (frames, code) = flooder.until_close().await;
    assert_eq!(code, 4006);
    let errors = frames.iter().filter(|f| f["type"] == "hub:error").count();
    assert!(errors <= 21, "answers are bounded by the budget: {errors}");
    for i in 0..20 {
        let ack = alice
            .request(json!({"type": "hub:send", "id": i, "to": "bob", "payload": i}))
            .await;
        assert_eq!(ack["status"], "accepted");
        assert_eq!(bob.expect("hub:message").await["payload"], i);
    }
}

/// Publishing over the rate limit is refused frame by frame, and a client
/// that keeps at it runs out of error budget too.
#[tokio::test]
async fn an_over_rate_flood_is_cut_off() {
    let mut config = test_config();
    config.hub.rate_limit_per_sec = 10;
    config.hub.rate_limit_burst = 20;
    config.hub.max_protocol_errors = 30;
    let server = start(config);
    let (mut flooder, _) = Client::connect(&server, "hasty").await;
    for i in 0..500 {
        flooder
            .send(json!({"type": "hub:publish", "topic": "t", "payload": i}))
            .await;
    }
    let (frames, code) = flooder.until_close().await;
    assert_eq!(code, 4006);
    assert!(frames.iter().any(|f| f["type"] == "hub:rate_limited"));
    assert!(
        frames.len() < 100,
        "not one answer per frame: {}",
        frames.len()
    );
}

/// Binary frames are refused and count as errors too.
#[tokio::test]
async fn a_binary_flood_is_cut_off() {
    let mut config = test_config();
    config.hub.max_protocol_errors = 10;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "binary").await;
    for _ in 0..50 {
        c.send_binary(vec![0, 1, 2]).await;
    }
    let (frames, code) = c.until_close().await;
    assert_eq!(code, 4006);
    assert!(frames.iter().any(|f| f["code"] == "binary_not_supported"));
}

/// A subscriber that stops reading 32 KiB messages is cut off by the byte
/// bound of its queue, long before its frame bound: it cannot make the
/// server hold frames-times-size of memory.
#[tokio::test]
async fn a_slow_consumer_of_large_messages_is_cut_by_bytes() {
    let mut config = test_config();
    config.hub.outbound_queue_frames = 100_000;
    config.hub.outbound_queue_bytes = 256 * 1024;
    let server = start(config);
    let (mut stuck, _) = Client::connect(&server, "stuck").await;
    stuck.subscribe("firehose").await;
    let (mut publisher, _) = Client::connect(&server, "firehose-pub").await;
    let taken = publish_until_cut_off(&mut publisher, "firehose").await;
    // What the socket buffers absorbed, plus 256 KiB: far below 100,000
    // frames of 32 KiB (3 GiB) the frame bound alone would allow.
    assert!(taken < 2_000, "cut off after {taken} messages");
    drop(stuck);
}

/// Expects the WebSocket upgrade to be refused with HTTP 429
/// `too_many_connections` and a `Retry-After`.
async fn expect_429(server: &hub_server::SpawnedServer) {
    let refusal = refused_upgrade(server).await;
    assert_eq!(refusal.status, 429);
    let retry: u64 = refusal.retry_after.as_deref().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert!(refusal.body.contains("too_many_connections"), "{refusal:?}");
}

/// One IP opening connections faster than `connection_rate_per_ip` gets
/// HTTP 429 with `Retry-After` before any upgrade.
#[tokio::test]
async fn connections_per_ip_are_rate_limited() {
    let mut config = test_config();
    config.hub.connection_rate_per_ip = 2;
    config.hub.max_connections_per_ip = 0;
    let server = start(config);
    let _a = Client::open(&server).await;
    let _b = Client::open(&server).await;
    expect_429(&server).await;
    assert_eq!(
        metric(&server, |m| m.connections),
        2,
        "the refusal took no slot"
    );
}

/// One IP may hold `max_connections_per_ip`; a slot frees when a connection ends.
#[tokio::test]
async fn connections_per_ip_are_capped_and_freed() {
    let mut config = test_config();
    config.hub.connection_rate_per_ip = 0;
    config.hub.max_connections_per_ip = 2;
    let server = start(config);
    let (a, _) = Client::connect(&server, "a").await;
    let (_b, _) = Client::connect(&server, "b").await;
    expect_429(&server).await;
    drop(a);
    eventually("a slot is free again", || {
        metric(&server, |m| m.connections) == 1
    })
    .await;
    let (mut c, _) = Client::connect(&server, "c").await;
    c.expect_nothing_pending().await;
}

/// Opens a WebSocket with an `Origin` header; returns the HTTP status the
/// upgrade got (101 when it went through) and the refusal body.
async fn open_from_origin(
    server: &hub_server::SpawnedServer,
    origin: Option<&str>,
) -> (u16, String) {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.ws_url().into_client_request().unwrap();
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_, response)) => (response.status().as_u16(), String::new()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            (response.status().as_u16(), body)
        }
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

/// With `allowed_origins` set, a browser upgrade from another origin is
/// refused with 403 `origin_not_allowed` (cross-site WebSocket hijacking);
/// listed origins, and clients that send no `Origin`, get through.
#[tokio::test]
async fn only_allowed_origins_may_open_a_websocket() {
    let mut config = test_config();
    config.hub.allowed_origins = vec!["https://app.example.com".into()];
    let server = start(config);
    let (status, body) = open_from_origin(&server, Some("https://evil.example")).await;
    assert_eq!(status, 403);
    assert!(body.contains("origin_not_allowed"), "{body}");
    assert_eq!(
        open_from_origin(&server, Some("https://APP.example.com"))
            .await
            .0,
        101
    );
    assert_eq!(open_from_origin(&server, None).await.0, 101);
    // Without a list, every origin may.
    let open = start_default();
    assert_eq!(
        open_from_origin(&open, Some("https://evil.example"))
            .await
            .0,
        101
    );
}
