//! The hub's own WebSocket transport (hub-server's upgrade path): what it must
//! do itself now that actix-ws no longer reads for it.

mod common;

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A text message split over continuation frames arrives as one message.
#[tokio::test]
async fn fragmented_text_is_joined_into_one_message() {
    let server = start_default();
    let mut c = Client::open(&server).await;
    let text = json!({"type": "hub:connect", "id": 1, "address": "fragmented"}).to_string();
    let (a, rest) = text.split_at(10);
    let (b, last) = rest.split_at(15);
    c.send_frame(Frame::message(
        a.to_owned(),
        OpCode::Data(Data::Text),
        false,
    ))
    .await;
    // A ping between fragments is allowed and answered.
    c.send_frame(Frame::ping(b"mid".to_vec())).await;
    c.send_frame(Frame::message(
        b.to_owned(),
        OpCode::Data(Data::Continue),
        false,
    ))
    .await;
    c.send_frame(Frame::message(
        last.to_owned(),
        OpCode::Data(Data::Continue),
        true,
    ))
    .await;
    let connected = c.next_frame().await;
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert_eq!(connected["address"], "fragmented");
}

/// Fragments that together pass `max_message_bytes` get `message_too_large`
/// and the 4004 close, although each fragment is small.
#[tokio::test]
async fn fragments_over_the_limit_close_with_message_too_large() {
    let mut config = test_config();
    config.hub.max_message_bytes = 1024;
    let server = start(config);
    let mut c = Client::open(&server).await;
    let chunk = "x".repeat(400);
    c.send_frame(Frame::message(
        chunk.clone(),
        OpCode::Data(Data::Text),
        false,
    ))
    .await;
    for _ in 0..2 {
        c.send_frame(Frame::message(
            chunk.clone(),
            OpCode::Data(Data::Continue),
            false,
        ))
        .await;
    }
    let (frames, code) = c.until_close().await;
    assert_eq!(frames[0]["code"], "message_too_large", "{frames:?}");
    assert_eq!(code, 4004);
}

/// Frames a client sends in the same write as its upgrade request (without
/// waiting for the 101) are read, not lost with the HTTP layer's buffer.
#[tokio::test]
async fn frames_sent_behind_the_upgrade_request_are_not_lost() {
    let server = start_default();
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    let connect = json!({"type": "hub:connect", "id": 1, "address": "eager"}).to_string();
    let mut bytes = b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
        Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        .to_vec();
    bytes.extend(masked_text_frame(connect.as_bytes()));
    tcp.write_all(&bytes).await.expect("write");

    let (head, leftover) = read_http_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut ws = WebSocketStream::from_partially_read(tcp, leftover, Role::Client, None).await;
    let frame = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a frame within PATIENCE")
        .expect("open")
        .expect("frame");
    let Message::Text(text) = frame else {
        panic!("expected text, got {frame:?}")
    };
    let connected: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(connected["type"], "hub:connected", "{connected}");
    assert_eq!(connected["address"], "eager");
    ws.close(None).await.expect("close");
}

/// An upgrade on another path gets 404 with a hint naming the WebSocket path;
/// plain HTTP on other paths still reaches the app.
#[tokio::test]
async fn upgrade_on_another_path_gets_404_with_the_right_path() {
    let server = start_default();
    let url = format!("ws://{}/not-the-hub", server.addr);
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 404);
            let body = String::from_utf8(response.body().clone().unwrap_or_default()).unwrap();
            assert!(body.contains("not_found") && body.contains("/ws"), "{body}");
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }
    assert_eq!(http_get(&server, "/health").await.0, 200);
}

/// A client that stops reading is released as soon as its session ends,
/// even with `tcp_user_timeout_ms` off (the kernel alone would keep the socket
/// for many minutes): the writer gives up a write the client never takes.
#[tokio::test]
async fn stuck_socket_is_released_when_its_session_ends() {
    let mut config = test_config();
    config.hub.outbound_queue_frames = 8;
    config.hub.close_timeout_ms = 100;
    config.tcp_user_timeout_ms = 0;
    let server = start(config);
    let (mut stuck, _) = Client::connect(&server, "stuck").await;
    stuck.subscribe("firehose").await;
    let (mut publisher, _) = Client::connect(&server, "pub").await;
    let big = "z".repeat(32 * 1024);
    let mut published = 0;
    while publisher.publish("firehose", json!(big)).await > 0 {
        published += 1;
        assert!(published < 20_000, "the stuck subscriber was never cut off");
    }
    eventually("the stuck socket is released", || {
        metric(&server, |m| &m.connections) == 1
    })
    .await;
    drop(stuck);
}

/// A masked (client-to-server) text frame.
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x81];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
    }
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Reads an HTTP response head; returns it and the bytes read past it.
async fn read_http_head(tcp: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (String::from_utf8_lossy(&buf).into_owned(), rest);
        }
        let n = tokio::time::timeout(PATIENCE, tcp.read(&mut chunk))
            .await
            .expect("response within PATIENCE")
            .expect("read");
        assert!(n > 0, "connection closed before the response head");
        buf.extend_from_slice(&chunk[..n]);
    }
}
