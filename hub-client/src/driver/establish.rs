//! One connection attempt: WebSocket upgrade, `hub:connect` until
//! `hub:connected`, then a `hub:subscribe` for every live subscription, all
//! acked before the attempt counts as done. Frames that arrive meanwhile are
//! kept for the driver in `backlog`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::config::ClientConfig;
use crate::error::ClientError;
use hub_core::protocol::{CloseCode, ErrorCode};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connection that is registered and resubscribed.
pub(crate) struct Established {
    pub(crate) ws: Ws,
    pub(crate) session_id: String,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    /// Optional features the server announced (`hub:connected` `features`).
    pub(crate) features: Vec<String>,
    /// Frames that arrived during the handshake, in order.
    pub(crate) backlog: Vec<Value>,
    /// Topics the server refused to resubscribe, with why.
    pub(crate) failed_topics: Vec<(String, ClientError)>,
}

/// Why an attempt failed.
pub(crate) enum EstablishError {
    /// Worth retrying after a backoff.
    Transient(String),
    /// Retrying will not help (refused token, terminal close, bad address).
    Fatal(ClientError),
}

impl EstablishError {
    pub(crate) fn into_client_error(self) -> ClientError {
        match self {
            Self::Transient(message) => ClientError::Connect(message),
            Self::Fatal(e) => e,
        }
    }
}

pub(crate) async fn establish(
    config: &ClientConfig,
    token: Option<String>,
    topics: Vec<String>,
    first_id: u64,
) -> Result<Established, EstablishError> {
    match tokio::time::timeout(
        config.connect_timeout,
        attempt(config, token, topics, first_id),
    )
    .await
    {
        Ok(result) => result,
        Err(_) => Err(EstablishError::Transient(format!(
            "no hub:connected within {:?}",
            config.connect_timeout
        ))),
    }
}

async fn attempt(
    config: &ClientConfig,
    token: Option<String>,
    topics: Vec<String>,
    first_id: u64,
) -> Result<Established, EstablishError> {
    // Nagle off: small frames must not wait for a delayed ACK.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(config.url.as_str(), None, true)
        .await
        .map_err(|e| EstablishError::Transient(e.to_string()))?;
    let mut connect = json!({"type": "hub:connect", "id": first_id, "address": config.address});
    if let Some(token) = token {
        connect["token"] = json!(token);
    }
    write(&mut ws, &connect).await?;
    let mut backlog = Vec::new();
    let connected = loop {
        let frame = read(&mut ws).await?;
        if frame["id"].as_u64() != Some(first_id) {
            backlog.push(frame);
            continue;
        }
        match frame["type"].as_str() {
            Some("hub:connected") => break frame,
            Some("hub:error") => return Err(refused(&frame)),
            _ => {
                return Err(EstablishError::Transient(format!(
                    "unexpected reply to hub:connect: {frame}"
                )))
            }
        }
    };
    let ms = |field: &str, default: u64| {
        Duration::from_millis(connected[field].as_u64().unwrap_or(default))
    };
    let mut failed_topics = Vec::new();
    let mut waiting = std::collections::HashMap::new();
    for (i, topic) in topics.into_iter().enumerate() {
        let id = first_id + 1 + i as u64;
        write(
            &mut ws,
            &json!({"type": "hub:subscribe", "id": id, "topic": topic}),
        )
        .await?;
        waiting.insert(id, topic);
    }
    while !waiting.is_empty() {
        let frame = read(&mut ws).await?;
        match frame["id"].as_u64().and_then(|id| waiting.remove(&id)) {
            Some(topic) if frame["type"] == "hub:subscribe_ack" => {
                tracing::debug!(topic, "resubscribed");
            }
            Some(topic) => failed_topics.push((topic, server_error(&frame))),
            None => backlog.push(frame),
        }
    }
    Ok(Established {
        ws,
        session_id: connected["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        heartbeat_interval: ms("heartbeat_interval_ms", 20_000),
        heartbeat_timeout: ms("heartbeat_timeout_ms", 30_000),
        features: serde_json::from_value(connected["features"].clone()).unwrap_or_default(),
        backlog,
        failed_topics,
    })
}

async fn write(ws: &mut Ws, frame: &Value) -> Result<(), EstablishError> {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| EstablishError::Transient(e.to_string()))
}

async fn read(ws: &mut Ws) -> Result<Value, EstablishError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map_err(|e| EstablishError::Transient(format!("bad frame from server: {e}")))
            }
            Some(Ok(Message::Close(frame))) => {
                let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                return Err(match CloseCode::from_number(code) {
                    Some(c) if !c.reconnect() => EstablishError::Fatal(ClientError::Terminated(c)),
                    _ => EstablishError::Transient(format!("closed with {code} while connecting")),
                });
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(EstablishError::Transient(e.to_string())),
            None => {
                return Err(EstablishError::Transient(
                    "connection ended while connecting".into(),
                ))
            }
        }
    }
}

/// A `hub:error` (or `hub:rate_limited`) frame as a [`ClientError`].
pub(crate) fn server_error(frame: &Value) -> ClientError {
    if frame["type"] == "hub:rate_limited" {
        return ClientError::RateLimited {
            retry_after_ms: frame["retry_after_ms"].as_u64().unwrap_or(0),
        };
    }
    let text = |f: &str| frame[f].as_str().unwrap_or_default().to_owned();
    ClientError::Server {
        code: frame["code"]
            .as_str()
            .and_then(ErrorCode::from_wire)
            .unwrap_or(ErrorCode::Internal),
        message: text("message"),
        hint: text("hint"),
    }
}

fn refused(frame: &Value) -> EstablishError {
    let error = server_error(frame);
    match error.code() {
        Some(code) if code.temporary() => EstablishError::Transient(error.to_string()),
        _ => EstablishError::Fatal(error),
    }
}
