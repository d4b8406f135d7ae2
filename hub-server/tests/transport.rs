//! The hub's own WebSocket transport (hub-server's upgrade path): what it must
//! do itself now that actix-ws no longer reads for it.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
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
    let mut bytes = UPGRADE_REQUEST.to_vec();
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
            assert_eq!(response.headers()["connection"], "close");
        }
        other => panic!("expected HTTP 404, got {other:?}"),
    }
    assert_eq!(http_get(&server, "/health").await.0, 200);
}

/// A WebSocket upgrade with an unsupported version gets 426 with the version
/// the hub speaks, and the JSON refusal body.
#[tokio::test]
async fn unsupported_websocket_version_gets_426() {
    let server = start_default();
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    let request = String::from_utf8(UPGRADE_REQUEST.to_vec())
        .unwrap()
        .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut response))
        .await
        .expect("answer within PATIENCE")
        .expect("read");
    let response = String::from_utf8_lossy(&response).to_lowercase();
    assert!(response.starts_with("http/1.1 426"), "{response}");
    assert!(response.contains("sec-websocket-version: 13"), "{response}");
    assert!(response.contains(r#""code":"bad_handshake""#), "{response}");
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
    publish_until_cut_off(&mut publisher, "firehose").await;
    eventually("the stuck socket is released", || {
        metric(&server, |m| m.connections) == 1
    })
    .await;
    drop(stuck);
}

/// A WebSocket ping gets a pong with the same payload, and the client's close
/// frame is answered with a close frame (1000), then the connection ends.
#[tokio::test]
async fn websocket_ping_and_close_handshake() {
    let server = start_default();
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("upgrade");
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .expect("ping");
    let pong = next_message(&mut ws).await;
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
    ws.send(Message::Close(None)).await.expect("close");
    match next_message(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected the close frame, got {other:?}"),
    }
    eventually("the connection is released", || {
        metric(&server, |m| m.connections) == 0
    })
    .await;
}

/// A close started by the server completes the closing handshake: the server
/// waits for the client's close frame (here far longer than this test runs),
/// ends the session as soon as it arrives, and the connection ends cleanly.
#[tokio::test]
async fn server_close_waits_for_the_clients_close_frame() {
    let mut config = test_config();
    config.hub.close_timeout_ms = 60_000;
    let server = start(config);
    let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
        .await
        .expect("upgrade");
    let connect = json!({"type": "hub:connect", "address": "leaving"}).to_string();
    ws.send(Message::Text(connect.into())).await.expect("send");
    assert!(matches!(next_message(&mut ws).await, Message::Text(t) if t.contains("hub:connected")));
    let bye = json!({"type": "hub:disconnect"}).to_string();
    ws.send(Message::Text(bye.into())).await.expect("send");
    assert!(
        matches!(next_message(&mut ws).await, Message::Text(t) if t.contains("disconnect_ack"))
    );
    assert!(matches!(next_message(&mut ws).await, Message::Close(_)));
    // The next poll sends tungstenite's answer; then the server ends the connection.
    match tokio::time::timeout(PATIENCE, ws.next()).await {
        Ok(None) | Ok(Some(Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed))) => {}
        other => panic!("expected a clean end of the connection, got {other:?}"),
    }
    eventually(
        "the session ends with the handshake, not at close_timeout",
        || metric(&server, |m| m.registered) == 0,
    )
    .await;
}

/// A message close to `max_message_bytes` that reaches the server in pieces
/// (the socket runs dry mid-frame, twice) is joined and delivered intact.
#[tokio::test]
async fn large_message_arriving_in_pieces_is_delivered_intact() {
    let server = start_default();
    let (mut to, _) = Client::connect(&server, "big-receiver").await;
    let mut ws = raw_upgrade(&server).await;
    let connect = json!({"type": "hub:connect", "address": "big-sender"}).to_string();
    ws.get_mut()
        .write_all(&masked_text_frame(connect.as_bytes()))
        .await
        .expect("write");
    assert!(matches!(next_message(&mut ws).await, Message::Text(t) if t.contains("hub:connected")));

    let payload: String = (0..60_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let send = json!({"type": "hub:send", "id": 1, "to": "big-receiver", "payload": payload});
    let frame = masked_text_frame(send.to_string().as_bytes());
    for piece in frame.chunks(frame.len() / 3 + 1) {
        ws.get_mut().write_all(piece).await.expect("write");
        ws.get_mut().flush().await.expect("flush");
        // Not a timing assertion: the pause only makes the server's reads
        // find the socket empty between pieces.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let message = to.expect("hub:message").await;
    assert_eq!(message["payload"], json!(payload));
    match next_message(&mut ws).await {
        Message::Text(ack) => assert!(ack.contains(r#""status":"accepted""#), "{ack}"),
        other => panic!("expected the ack, got {other:?}"),
    }
}

/// An unmasked client frame breaks the WebSocket protocol: close 1002, and
/// no hub frame before it.
#[tokio::test]
async fn unmasked_client_frame_closes_with_1002() {
    let server = start_default();
    let mut ws = raw_upgrade(&server).await;
    let ping = br#"{"type":"hub:ping"}"#;
    let mut unmasked = vec![0x81, ping.len() as u8];
    unmasked.extend_from_slice(ping);
    ws.get_mut().write_all(&unmasked).await.expect("write");
    let Message::Close(close) = next_message(&mut ws).await else {
        panic!("the close frame, and nothing before it")
    };
    assert_eq!(close.map(|c| u16::from(c.code)), Some(1002));
}

/// A client whose TCP connection just drops (no close frame) leaves nothing
/// behind: its connection slot, its registration and its topic are released.
#[tokio::test]
async fn dropped_connection_releases_its_session() {
    let mut config = test_config();
    config.hub.topic_idle_grace_ms = 10;
    let server = start(config);
    let (mut c, _) = Client::connect(&server, "vanishing").await;
    c.subscribe("lonely").await;
    assert_eq!(metric(&server, |m| m.registered), 1);
    drop(c);
    eventually("everything is released", || {
        metric(&server, |m| m.connections) == 0
            && metric(&server, |m| m.registered) == 0
            && metric(&server, |m| m.topics) == 0
    })
    .await;
}

/// Upgrades a plain TCP connection; frames can then be written raw through
/// `get_mut()` while tungstenite reads.
async fn raw_upgrade(server: &hub_server::SpawnedServer) -> WebSocketStream<TcpStream> {
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    tcp.write_all(UPGRADE_REQUEST).await.expect("write");
    let (head, leftover) = read_http_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    WebSocketStream::from_partially_read(tcp, leftover, Role::Client, None).await
}

async fn next_message<S>(ws: &mut WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a message within PATIENCE")
        .expect("open")
        .expect("message")
}

const UPGRADE_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\n\
    Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

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

/// A frame whose header announces more than `max_message_bytes` is refused
/// from its header (error frame, then close 4004): the server does not wait
/// for, or buffer, the payload.
#[tokio::test]
async fn a_frame_announcing_too_much_is_refused_from_its_header() {
    let server = start_default();
    let mut ws = raw_upgrade(&server).await;
    let mut header = vec![0x81, 0x80 | 127];
    header.extend((64u64 << 20).to_be_bytes());
    header.extend([0x12, 0x34, 0x56, 0x78]);
    header.extend([b'x'; 1024]);
    ws.get_mut().write_all(&header).await.expect("write");
    // Only the header and 1 KiB of the announced 64 MiB were sent.
    match next_message(&mut ws).await {
        Message::Text(error) => assert!(error.contains("message_too_large"), "{error}"),
        other => panic!("expected the error frame, got {other:?}"),
    }
    let close = loop {
        match next_message(&mut ws).await {
            Message::Close(close) => break close,
            Message::Text(t) if t.contains("hub:disconnect") => continue,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(close.map(|c| u16::from(c.code)), Some(4004));
}
