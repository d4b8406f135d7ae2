//! The load generator's own lean WebSocket client: raw text frames, no SDK,
//! no JSON parsing on the receive path beyond finding a few fields, so that
//! it measures the server, not itself.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Nanoseconds since the process started: the clock stamped into payloads.
pub(crate) fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// The server's HMAC secret, when it checks tokens (`--jwt-secret`): every
/// connect then carries a token for its address.
pub(crate) static JWT_SECRET: OnceLock<String> = OnceLock::new();

/// The `hub:connect` frame for `address`.
fn connect_frame(address: &str, batch: bool) -> String {
    let features = if batch {
        r#","features":["batch"]"#
    } else {
        ""
    };
    let token = JWT_SECRET.get().map(|secret| {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            + 3600;
        // A token of the size and shape a deployment hands out: a few
        // patterns, the one that matches the bench's names sorting last (the
        // server keeps them in name order), so a check walks them all.
        let claims = format!(
            r#"{{"sub":"{address}","exp":{exp},"grants":{{
                "topics":{{"alerts:*":["subscribe"],"bench.*":["subscribe","publish"],"admin":["publish"]}},
                "addresses":{{"alerts-*":["send"],"bot":["send"],"pair-*":["send","broadcast"]}}}}}}"#
        );
        let claims: serde_json::Value = serde_json::from_str(&claims).unwrap_or_default();
        let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap_or_default()
    });
    let token = token.map_or(String::new(), |t| format!(r#","token":"{t}""#));
    format!(r#"{{"type":"hub:connect","address":"{address}"{features}{token}}}"#)
}

/// Opens a socket and registers `address`; waits for `hub:connected`. With
/// `batch`, asks for batches: a message may then hold several frames, a line
/// each (see [`lines`]).
pub(crate) async fn connect(url: &str, address: &str, batch: bool) -> Result<Ws, String> {
    // tungstenite zero-fills its whole read buffer on every read: at the
    // default 128 KiB that memset was a third of the load generator's CPU.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    // Nagle off, as any real-time client should.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|e| e.to_string())?;
    send(&mut ws, connect_frame(address, batch)).await?;
    expect(&mut ws, "hub:connected").await?;
    Ok(ws)
}

/// Like [`connect`], from the local address `source` (another loopback
/// address, say, so that per-IP caps tell this client from the others).
pub(crate) async fn connect_from(
    url: &str,
    source: std::net::IpAddr,
    address: &str,
) -> Result<Ws, String> {
    let authority = url
        .trim_start_matches("ws://")
        .split('/')
        .next()
        .unwrap_or_default();
    let server: std::net::SocketAddr =
        authority.parse().map_err(|e| format!("{authority}: {e}"))?;
    let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(std::net::SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    let stream = socket.connect(server).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(stream),
        Some(config),
    )
    .await
    .map_err(|e| e.to_string())?;
    send(&mut ws, connect_frame(address, false)).await?;
    expect(&mut ws, "hub:connected").await?;
    Ok(ws)
}

/// Subscribes and waits for the ack.
pub(crate) async fn subscribe(ws: &mut Ws, topic: &str) -> Result<(), String> {
    send(
        ws,
        format!(r#"{{"type":"hub:subscribe","topic":"{topic}"}}"#),
    )
    .await?;
    expect(ws, "hub:subscribe_ack").await
}

pub(crate) async fn send(ws: &mut Ws, text: String) -> Result<(), String> {
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())
}

/// Reads until a frame of `kind` arrives (skipping others), within 30 s.
pub(crate) async fn expect(ws: &mut Ws, kind: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| format!("no {kind} within 30 s"))?;
        match next {
            Some(Ok(Message::Text(t))) if frame_type(&t) == Some(kind) => return Ok(()),
            Some(Ok(Message::Text(t))) if frame_type(&t) == Some("hub:error") => {
                return Err(format!("server refused: {t}"))
            }
            Some(Ok(Message::Close(f))) => {
                return Err(format!("closed while waiting for {kind}: {f:?}"))
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("connection ended".into()),
        }
    }
}

/// The frames in one text message: one, or a batch of one per line.
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
}

/// The `type` of a server frame; the server always writes it first.
pub(crate) fn frame_type(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    rest.split('"').next()
}

/// A payload of about `bytes` bytes carrying the send time.
pub(crate) fn stamped_payload(bytes: usize) -> impl Fn() -> String {
    let pad = "x".repeat(bytes.saturating_sub(40));
    move || format!(r#"{{"t":{},"pad":"{pad}"}}"#, now_ns())
}

/// The send time stamped in a frame's payload, if any.
pub(crate) fn stamp(text: &str) -> Option<u64> {
    let at = text.find(r#""t":"#)? + 4;
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Raises the open-file limit as far as the hard limit allows.
pub(crate) fn raise_fd_limit() {
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get() {
        if soft < hard {
            let _ = rlimit::Resource::NOFILE.set(hard, hard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_type_and_stamp() {
        let f = r#"{"type":"hub:message","topic":"b","from":"p","payload":{"t":12345,"pad":"xx"}}"#;
        assert_eq!(frame_type(f), Some("hub:message"));
        assert_eq!(stamp(f), Some(12345));
        assert_eq!(stamp(r#"{"type":"hub:pong"}"#), None);
    }
}
