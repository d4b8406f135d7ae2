//! Timers and endings, driven by short config values: heartbeat timeout, TTL
//! sweep, slow consumers, idle topics, graceful shutdown, health endpoints.

mod common;

use common::*;
use serde_json::json;

/// A silent session is closed with `heartbeat_timeout` (4001) after a
/// `hub:disconnect` frame, and its registration and subscriptions vanish.
#[tokio::test]
async fn silent_session_times_out_and_its_state_vanishes() {
    let mut config = test_config();
    config.hub.heartbeat_interval_ms = 100;
    config.hub.heartbeat_timeout_ms = 300;
    let server = start(config);
    let (mut silent, _) = Client::connect(&server, "silent").await;
    silent.subscribe("t").await;
    let (frames, code) = silent.until_close().await;
    assert_eq!(code, 4001);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0]["type"], "hub:disconnect");
    assert_eq!(frames[0]["reason"], "heartbeat_timeout");
    assert_eq!(frames[0]["reconnect"], true);

    let (mut other, _) = Client::connect(&server, "other").await;
    eventually("the silent session is unregistered", || {
        metric(&server, |m| m.registered) == 1
    })
    .await;
    let ack = other
        .request(json!({"type": "hub:send", "to": "silent", "payload": 1}))
        .await;
    assert_eq!(ack["reason"], "recipient_not_found");
    assert_eq!(other.publish("t", json!(1)).await, 0);
}

/// A session that pings keeps living past the heartbeat timeout.
#[tokio::test]
async fn pinging_session_outlives_the_heartbeat_timeout() {
    let mut config = test_config();
    config.hub.heartbeat_interval_ms = 50;
    config.hub.heartbeat_timeout_ms = 400;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "alive").await;
    // Ping for well over the timeout, far more often than it; every pong
    // proves the session is still open.
    for _ in 0..16 {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        c.expect_nothing_pending().await;
    }
}

/// The registry's alarm expires a registration not refreshed within the TTL:
/// the session is closed with `registration_expired` (4003) and the address is free.
#[tokio::test]
async fn ttl_sweep_expires_stale_registrations() {
    let mut config = test_config();
    config.hub.registration_ttl_ms = 200;
    config.hub.ttl_sweep_interval_ms = 20;
    let server = start(config);
    let (mut stale, _) = Client::connect(&server, "stale").await;
    let (frames, code) = stale.until_close().await;
    assert_eq!(code, 4003);
    assert_eq!(frames[0]["reason"], "registration_expired");
    assert!(metric(&server, |m| m.registrations_expired_total) >= 1);
    let (mut other, _) = Client::connect(&server, "other").await;
    let ack = other
        .request(json!({"type": "hub:send", "to": "stale", "payload": 1}))
        .await;
    assert_eq!(ack["reason"], "recipient_not_found");
}

/// Activity refreshes the TTL: a session sending frames is not expired.
#[tokio::test]
async fn activity_refreshes_the_registration() {
    let mut config = test_config();
    config.hub.registration_ttl_ms = 400;
    config.hub.ttl_sweep_interval_ms = 10;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "busy").await;
    for _ in 0..16 {
        tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        c.expect_nothing_pending().await;
    }
    assert_eq!(metric(&server, |m| m.registrations_expired_total), 0);
}

/// A subscriber that stops reading overflows its bounded queue and is closed
/// with `slow_consumer` (4002); the publisher is never blocked and memory
/// stays bounded.
#[tokio::test]
async fn slow_subscriber_is_disconnected_with_slow_consumer_code() {
    let mut config = test_config();
    config.hub.outbound_queue_frames = 8;
    let server = start(config);
    let (mut slow, _) = Client::connect(&server, "slow").await;
    slow.subscribe("firehose").await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    // The subscriber reads nothing; the socket buffers fill, then the queue.
    // The last publication found no subscriber left.
    let published = publish_until_cut_off(&mut publisher, "firehose").await + 1;
    let mut messages = 0;
    let code = loop {
        match slow.next_event().await {
            Event::Frame(f) => {
                assert_eq!(f["type"], "hub:message");
                messages += 1;
            }
            Event::Closed { code, .. } => break code,
            Event::Eof => panic!("no close frame"),
        }
    };
    assert_eq!(code, 4002);
    assert!(
        messages < published,
        "queued frames beyond the bound were dropped"
    );
    // Counted by the session actor when it handles the close, which may be
    // just after the queue refused the frame.
    eventually("the slow consumer is counted", || {
        metric(&server, |m| m.slow_consumers_total) == 1
    })
    .await;
    publisher.expect_nothing_pending().await;
}

/// An empty topic's actor stops after the grace period; subscribing again
/// makes a fresh one.
#[tokio::test]
async fn empty_topic_stops_after_grace_period() {
    let mut config = test_config();
    config.hub.topic_idle_grace_ms = 50;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "a").await;
    c.subscribe("brief").await;
    assert_eq!(metric(&server, |m| m.topics), 1);
    c.request(json!({"type": "hub:unsubscribe", "topic": "brief"}))
        .await;
    eventually("the idle topic stops", || {
        metric(&server, |m| m.topics) == 0
    })
    .await;
    c.subscribe("brief").await;
    assert_eq!(metric(&server, |m| m.topics_created_total), 2);
    let (mut p, _) = Client::connect(&server, "p").await;
    assert_eq!(p.publish("brief", json!(1)).await, 1);
}

/// Graceful shutdown: every session gets `hub:disconnect` (server_shutdown,
/// reconnect advised with retry_after_ms) and close code 4000, then the server exits.
#[tokio::test]
async fn shutdown_tells_every_session_server_shutdown() {
    let server = start_default();
    let (mut a, _) = Client::connect(&server, "a").await;
    let mut b = Client::open(&server).await; // not yet connected: still told
    let shutdown = tokio::task::spawn_blocking(move || server.shutdown());
    for c in [&mut a, &mut b] {
        let (frames, code) = c.until_close().await;
        assert_eq!(code, 4000);
        let last = frames.last().expect("hub:disconnect");
        assert_eq!(last["type"], "hub:disconnect");
        assert_eq!(last["reason"], "server_shutdown");
        assert_eq!(last["reconnect"], true);
        assert_eq!(last["retry_after_ms"], 1500);
    }
    shutdown.await.unwrap();
}

/// A drain tells `drain_batch_size` sessions per `drain_batch_interval_ms`:
/// with waves of two an hour apart, exactly two of six clients are told
/// `server_shutdown`; the other four are still served (a ping is answered).
#[tokio::test]
async fn a_drain_tells_sessions_in_waves() {
    let mut config = test_config();
    config.hub.drain_batch_size = 2;
    config.hub.drain_batch_interval_ms = 3_600_000;
    // Long enough that the pace fits: the waves are not made bigger.
    config.shutdown_timeout_ms = 100 * 3_600_000;
    let mut server = start(config);
    let mut clients = Vec::new();
    for i in 0..6 {
        clients.push(Client::connect(&server, &format!("c{i}")).await.0);
    }
    server.begin_shutdown();
    eventually("the first wave is closed", || {
        metric(&server, |m| m.connections) == 4
    })
    .await;
    let (mut told, mut served) = (0, 0);
    for c in &mut clients {
        let _ = c.try_send(json!({"type": "hub:ping", "id": "p"})).await;
        match c.next_event().await {
            Event::Frame(frame) if frame["type"] == "hub:pong" => served += 1,
            Event::Frame(frame) if frame["reason"] == "server_shutdown" => told += 1,
            Event::Closed { code: 4000, .. } => told += 1,
            other => panic!("told to leave or served, not {other:?}"),
        }
    }
    assert_eq!((told, served), (2, 4));
    let (refused, _) = http_get(&server, "/ready").await;
    assert_eq!(refused, 503, "draining");
    // Not an hour: the rest of the drain is not what this test waits for.
    server.kill();
}

/// `/health` is live, `/ready` is ready, `/metrics` speaks Prometheus.
#[tokio::test]
async fn health_ready_and_metrics_endpoints_answer() {
    let server = start_default();
    let (_c, _) = Client::connect(&server, "a").await;
    let (status, body) = http_get(&server, "/health").await;
    assert_eq!((status, body.contains("ok")), (200, true));
    let (status, body) = http_get(&server, "/ready").await;
    assert_eq!((status, body.contains("ready")), (200, true));
    let (status, body) = http_get(&server, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("signal_hub_registered 1"), "{body}");
}

/// A plain HTTP GET on the WebSocket path is refused with 400 and a body
/// saying how to open a WebSocket, not a crash.
#[tokio::test]
async fn non_websocket_request_on_ws_path_is_refused() {
    let server = start_default();
    let (status, body) = http_get(&server, "/ws").await;
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["code"], "bad_handshake");
    assert!(body["hint"]
        .as_str()
        .unwrap()
        .contains("Upgrade: websocket"));
}

/// A client that stops reading is cut off as a slow consumer, and its socket
/// does not linger: it counts against `max_connections` until the kernel drops
/// it (`tcp_user_timeout_ms`), and then it is gone although the client never
/// read again.
#[tokio::test]
async fn stuck_client_socket_is_dropped_not_left_open() {
    let mut config = test_config();
    config.hub.outbound_queue_frames = 8;
    config.hub.close_timeout_ms = 200;
    config.tcp_user_timeout_ms = 500;
    let server = start(config);
    let (mut stuck, _) = Client::connect(&server, "stuck").await;
    stuck.subscribe("firehose").await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    publish_until_cut_off(&mut publisher, "firehose").await;
    // Counted by the session actor when it handles the close, which may be
    // just after the queue refused the frame.
    eventually("the slow consumer is counted", || {
        metric(&server, |m| m.slow_consumers_total) == 1
    })
    .await;
    eventually("the stuck socket is dropped", || {
        metric(&server, |m| m.connections) == 1
    })
    .await;
    publisher.expect_nothing_pending().await;
    drop(stuck);
}

/// Once draining starts, `/ready` answers 503 and new WebSocket upgrades are
/// refused with 503 and `shutting_down`, while `/health` stays 200.
#[tokio::test]
async fn draining_hub_is_not_ready_and_refuses_upgrades() {
    let server = start_default();
    assert_eq!(
        server
            .hub
            .drain(std::time::Duration::from_millis(100))
            .await,
        0
    );
    let (status, body) = http_get(&server, "/ready").await;
    assert_eq!((status, body.contains("draining")), (503, true));
    assert_eq!(http_get(&server, "/health").await.0, 200);
    let refusal = refused_upgrade(&server).await;
    assert_eq!(refusal.status, 503);
    assert!(refusal.body.contains("shutting_down"), "{refusal:?}");
}

/// The server's own graceful shutdown keeps answering HTTP while sessions
/// drain: `/ready` turns 503 and a new upgrade gets 503 `shutting_down`
/// (not a refused or reset connection).
#[tokio::test]
async fn server_shutdown_answers_while_it_drains() {
    let mut config = test_config();
    // A client that never answers its close frame holds the drain open this long.
    config.hub.close_timeout_ms = 30_000;
    config.shutdown_timeout_ms = 30_000;
    let mut server = start(config);
    let (holder, _) = Client::connect(&server, "holder").await;
    server.begin_shutdown();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while http_get(&server, "/ready").await.0 != 503 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "/ready never turned 503"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let refusal = refused_upgrade(&server).await;
    assert_eq!(refusal.status, 503);
    assert!(refusal.body.contains("shutting_down"), "{refusal:?}");
    assert_eq!(http_get(&server, "/health").await.0, 200);
    // The holder goes away; the drain ends and the server stops.
    drop(holder);
    tokio::task::spawn_blocking(move || drop(server))
        .await
        .unwrap();
}
