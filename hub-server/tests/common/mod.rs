//! Shared test helpers: a real hub-server on an OS-assigned loopback port and
//! a raw WebSocket client that speaks protocol v1 frame by frame.
#![allow(dead_code, unreachable_pub)]

pub mod backend;
pub mod browser;
pub mod engines;
pub mod pages;
mod process;
pub mod redis;
pub mod redis_tls;
pub mod sentinel;

// Each test crate uses some of these.
#[allow(unused_imports)]
pub use process::{free_port, Binary, TempDir};

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hub_server::{ServerConfig, SpawnedServer};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound on waiting for one frame. A safety net against hangs, not a
/// timing assertion: every wait in these tests is for something that must come.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A config for tests: OS-assigned port, two workers, rate limit out of the
/// way, direct messages not stored (the durability tests store them).
pub fn test_config() -> ServerConfig {
    let mut c = ServerConfig {
        bind: "127.0.0.1:0".into(),
        workers: 2,
        shutdown_timeout_ms: 3_000,
        durability: hub_server::Durability::Off,
        ..ServerConfig::default()
    };
    c.hub.rate_limit_per_sec = 100_000;
    c.hub.rate_limit_burst = 100_000;
    c
}

pub fn start(config: ServerConfig) -> SpawnedServer {
    hub_server::spawn(config).expect("server starts")
}

pub fn start_default() -> SpawnedServer {
    start(test_config())
}

/// What the client saw next.
#[derive(Debug)]
pub enum Event {
    Frame(Value),
    Closed {
        code: u16,
        reason: String,
    },
    /// The TCP connection ended without a close frame.
    Eof,
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Opens a WebSocket without sending anything.
    pub async fn open(server: &SpawnedServer) -> Self {
        Self::open_url(&server.ws_url()).await
    }

    /// Wraps a WebSocket opened elsewhere (with headers of the test's own).
    pub fn from_stream(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        Self { ws }
    }

    /// Opens a WebSocket to `url` without sending anything.
    pub async fn open_url(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket upgrade");
        Self { ws }
    }

    /// Opens a WebSocket and registers `address`; returns the client and `hub:connected`.
    pub async fn connect(server: &SpawnedServer, address: &str) -> (Self, Value) {
        Self::connect_url(&server.ws_url(), address, &[]).await
    }

    /// [`Client::connect`] to `url`, asking for `features`.
    pub async fn connect_url(url: &str, address: &str, features: &[&str]) -> (Self, Value) {
        let mut c = Self::open_url(url).await;
        c.send(json!({"type": "hub:connect", "id": "c", "address": address, "features": features}))
            .await;
        let connected = c.next_frame().await;
        assert_eq!(connected["type"], "hub:connected", "{connected}");
        (c, connected)
    }

    pub async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    /// Sends `frame`; false when the connection is gone.
    pub async fn try_send(&mut self, frame: Value) -> bool {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws
            .send(Message::Text(text.into()))
            .await
            .expect("send frame");
    }

    /// Sends a text frame whose bytes are not valid UTF-8 (a protocol violation).
    pub async fn send_invalid_utf8(&mut self) {
        use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
        use tokio_tungstenite::tungstenite::protocol::frame::Frame;
        let frame = Frame::message(vec![0xff, 0xfe, 0xfd], OpCode::Data(Data::Text), true);
        self.ws
            .send(Message::Frame(frame))
            .await
            .expect("send frame");
    }

    /// Sends one raw WebSocket frame (fragments, control frames).
    pub async fn send_frame(
        &mut self,
        frame: tokio_tungstenite::tungstenite::protocol::frame::Frame,
    ) {
        self.ws
            .send(Message::Frame(frame))
            .await
            .expect("send frame");
    }

    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("send frame");
    }

    /// The next WebSocket text message, whole (a batch holds several frames).
    pub async fn next_text(&mut self) -> String {
        loop {
            let item = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a message within PATIENCE");
            match item {
                Some(Ok(Message::Text(t))) => return t.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    /// The next hub frame, close or EOF.
    pub async fn next_event(&mut self) -> Event {
        loop {
            let item = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame within PATIENCE");
            match item {
                Some(Ok(Message::Text(t))) => {
                    return Event::Frame(serde_json::from_str(&t).expect("server sends JSON"))
                }
                Some(Ok(Message::Close(Some(f)))) => {
                    return Event::Closed {
                        code: u16::from(f.code),
                        reason: f.reason.to_string(),
                    }
                }
                Some(Ok(Message::Close(None))) => {
                    return Event::Closed {
                        code: u16::from(CloseCode::Status),
                        reason: String::new(),
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Event::Eof,
            }
        }
    }

    /// The next hub frame; panics on close.
    pub async fn next_frame(&mut self) -> Value {
        match self.next_event().await {
            Event::Frame(v) => v,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame if one comes within `wait` (for what may be lost,
    /// such as a publication while Redis fails over).
    pub async fn frame_within(&mut self, wait: Duration) -> Option<Value> {
        match tokio::time::timeout(wait, self.next_event()).await {
            Ok(Event::Frame(f)) => Some(f),
            _ => None,
        }
    }

    /// The next frame, which must be of `kind`.
    pub async fn expect(&mut self, kind: &str) -> Value {
        let f = self.next_frame().await;
        assert_eq!(f["type"], kind, "unexpected frame {f}");
        f
    }

    /// Sends `frame` and returns the next frame (the reply, when nothing else is in flight).
    pub async fn request(&mut self, frame: Value) -> Value {
        self.send(frame).await;
        self.next_frame().await
    }

    /// Proves nothing else is queued for this client: a ping's pong is the next frame.
    pub async fn expect_nothing_pending(&mut self) {
        self.send(json!({"type": "hub:ping", "id": "probe"})).await;
        let f = self.next_frame().await;
        assert_eq!(f["type"], "hub:pong", "a frame was pending: {f}");
        assert_eq!(f["id"], "probe");
    }

    /// Sends a WebSocket ping every `every` until the server closes; returns
    /// the close code. Pings are activity, but not everything a server wants.
    pub async fn pinging_until_close(&mut self, every: Duration) -> u16 {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    assert!(tokio::time::Instant::now() < deadline, "no close within PATIENCE");
                    if self.ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                        panic!("connection ended without a close frame");
                    }
                }
                item = self.ws.next() => match item {
                    Some(Ok(Message::Close(Some(f)))) => {
                        let _ = self.ws.flush().await;
                        return u16::from(f.code);
                    }
                    Some(Ok(_)) => {}
                    other => panic!("expected a close frame, got {other:?}"),
                },
            }
        }
    }

    /// Reads frames until the close frame; returns them and the close code.
    pub async fn until_close(&mut self) -> (Vec<Value>, u16) {
        let mut frames = Vec::new();
        loop {
            match self.next_event().await {
                Event::Frame(v) => frames.push(v),
                Event::Closed { code, .. } => {
                    // Answer the close frame, as a WebSocket client does; the
                    // server holds the session until it hears back.
                    let _ = self.ws.flush().await;
                    return (frames, code);
                }
                Event::Eof => panic!("connection ended without a close frame after {frames:?}"),
            }
        }
    }

    pub async fn subscribe(&mut self, topic: &str) {
        let ack = self
            .request(json!({"type": "hub:subscribe", "id": "s", "topic": topic}))
            .await;
        assert_eq!(ack["type"], "hub:subscribe_ack", "{ack}");
    }

    pub async fn publish(&mut self, topic: &str, payload: Value) -> u64 {
        let ack = self
            .request(json!({"type": "hub:publish", "id": "p", "topic": topic, "payload": payload}))
            .await;
        assert_eq!(ack["type"], "hub:publish_ack", "{ack}");
        ack["recipients"].as_u64().expect("recipients")
    }
}

/// Publishes 32 KiB messages to `topic` until no subscriber takes one (its
/// only subscriber stopped reading and was cut off as a slow consumer);
/// returns how many were taken before that.
pub async fn publish_until_cut_off(publisher: &mut Client, topic: &str) -> usize {
    let big = "z".repeat(32 * 1024);
    let mut taken = 0;
    while publisher.publish(topic, json!(big)).await > 0 {
        taken += 1;
        assert!(
            taken < 20_000,
            "the subscriber of {topic} was never cut off"
        );
    }
    taken
}

/// A minimal HTTP GET over loopback; returns the status and body.
pub async fn http_get(server: &SpawnedServer, path: &str) -> (u16, String) {
    let answer = http(server, "GET", path, None, None).await;
    (answer.status, answer.body)
}

/// An upgrade the server refused over HTTP.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Opens a WebSocket that must be refused; returns the HTTP answer.
pub async fn refused_upgrade(server: &SpawnedServer) -> Refusal {
    match tokio_tungstenite::connect_async(server.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Refusal {
            status: response.status().as_u16(),
            retry_after: response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
            body: String::from_utf8(response.body().clone().unwrap_or_default()).unwrap(),
        },
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Reads one of the hub's counters or gauges.
pub fn metric(server: &SpawnedServer, pick: impl Fn(&hub_core::MetricsSnapshot) -> u64) -> u64 {
    pick(&server.hub.metrics())
}

/// Polls `probe` until it returns true; panics after PATIENCE. For state that
/// settles asynchronously (a gauge after a close), never for ordering.
pub async fn eventually(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !probe() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: std::collections::HashMap<String, String>,
    pub body: String,
}

impl HttpAnswer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request over loopback (`Connection: close`); `bearer` is
/// sent as `Authorization: Bearer <bearer>`.
pub async fn http(
    server: &SpawnedServer,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> HttpAnswer {
    http_at(server.addr, method, path, bearer, body).await
}

/// [`http`] to the listener at `addr` (the admin listener, say).
pub async fn http_at(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
) -> HttpAnswer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(key) = bearer {
        req.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write head");
    // The server may answer (401, 413) before reading a large body and close.
    let _ = s.write_all(body.as_bytes()).await;
    let mut buf = Vec::new();
    tokio::time::timeout(PATIENCE, s.read_to_end(&mut buf))
        .await
        .expect("response within PATIENCE")
        .expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a full response");
    let mut lines = head.lines();
    let status = lines.next().expect("status line")[9..12]
        .parse()
        .expect("status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A `hub:send` from `sender` to `to`, and its `hub:delivery_ack`.
pub async fn send(sender: &mut Client, to: &str, payload: Value) -> Value {
    let ack = sender
        .request(json!({"type": "hub:send", "id": "s", "to": to, "payload": payload}))
        .await;
    assert_eq!(ack["type"], "hub:delivery_ack", "{ack}");
    ack
}

/// Reads `n` stored messages; returns their (seq, payload).
pub async fn take(c: &mut Client, n: usize) -> Vec<(u64, Value)> {
    let mut got = Vec::new();
    while got.len() < n {
        let m = c.expect("hub:message").await;
        got.push((
            m["seq"].as_u64().expect("a stored message has a seq"),
            m["payload"].clone(),
        ));
    }
    got
}
