//! One connection attempt: WebSocket upgrade, `hub:connect` until
//! `hub:connected`, then a `hub:subscribe` for every live subscription and a
//! `hub:watch` for every watched address, all answered before the attempt
//! counts as done. Frames that arrive meanwhile are
//! kept for the driver in `backlog`.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::StreamExt;
use hub_core::protocol::{
    ClientFrame, CloseCode, FrameId, Request, ServerFrame, StreamPosition, FEATURE_ACK,
    FEATURE_BATCH,
};
use tokio_tungstenite::tungstenite::Message;

use super::command::{server_error, Answer};
use super::wire::{frames, write_text, Ws};
use crate::config::ClientConfig;
use crate::error::ClientError;

/// A connection that is registered and resubscribed.
pub(crate) struct Established {
    pub(crate) ws: Ws,
    pub(crate) session_id: String,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    /// Optional features the server agreed to (`hub:connected` `features`).
    pub(crate) features: Vec<String>,
    /// Frames that arrived during the handshake, in order.
    pub(crate) backlog: Vec<Answer>,
    /// Topics the server refused to resubscribe, with why.
    pub(crate) failed_topics: Vec<(String, ClientError)>,
    /// Topics resubscribed, with where their stream stands and whether
    /// what was missed was recovered.
    pub(crate) resubscribed: Vec<Resubscribed>,
    /// Addresses watched again, each with whether it is online now.
    pub(crate) rewatched: Vec<(String, bool)>,
    /// Addresses the server refused to watch again, with why.
    pub(crate) failed_watches: Vec<(String, ClientError)>,
}

/// What a connection takes up again: topics (each from its position) and
/// watched addresses.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    pub(crate) topics: Vec<(String, Option<StreamPosition<'static>>)>,
    pub(crate) watches: Vec<String>,
}

impl Resume {
    /// Frame ids the attempt needs: the connect and one per call.
    pub(crate) fn ids(&self) -> usize {
        1 + self.topics.len() + self.watches.len()
    }
}

/// The answer to one resubscribe.
pub(crate) struct Resubscribed {
    pub(crate) topic: String,
    pub(crate) epoch: Option<String>,
    pub(crate) offset: Option<u64>,
    pub(crate) recovered: Option<bool>,
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

/// One attempt to connect to `url` (one of `config.urls`).
pub(crate) async fn establish(
    config: &ClientConfig,
    url: &str,
    token: Option<String>,
    resume: Resume,
    first_id: u64,
) -> Result<Established, EstablishError> {
    let attempt = attempt(config, url, token, resume, first_id);
    match tokio::time::timeout(config.connect_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(EstablishError::Transient(format!(
            "{url}: no hub:connected within {:?}",
            config.connect_timeout
        ))),
    }
}

async fn attempt(
    config: &ClientConfig,
    url: &str,
    token: Option<String>,
    resume: Resume,
    first_id: u64,
) -> Result<Established, EstablishError> {
    // Nagle off: small frames must not wait for a delayed ACK.
    let connector = config.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(url, None, true, connector)
        .await
        .map_err(|e| EstablishError::Transient(format!("{url}: {e}")))?;
    let mut reader = Reader {
        ws,
        queued: VecDeque::new(),
    };
    let connect = ClientFrame::Connect {
        address: config.address.clone().into(),
        device: config.device.clone().map(Into::into),
        token: token.map(Into::into),
        metadata: None,
        features: vec![FEATURE_BATCH.into(), FEATURE_ACK.into()],
    };
    reader.write(first_id, connect).await?;
    let mut backlog = Vec::new();
    let connected = loop {
        let frame = reader.read().await?;
        if !answers(&frame, first_id) {
            backlog.push(frame);
            continue;
        }
        match frame {
            ServerFrame::Connected(connected) => break connected,
            refusal @ ServerFrame::Error(_) => return Err(refused(&refusal)),
            other => {
                return Err(EstablishError::Transient(format!(
                    "unexpected answer to hub:connect: {}",
                    other.to_json()
                )))
            }
        }
    };
    let mut failed_topics = Vec::new();
    let mut resubscribed = Vec::new();
    let mut rewatched = Vec::new();
    let mut failed_watches = Vec::new();
    let mut waiting = HashMap::new();
    let mut id = first_id;
    for (topic, since) in resume.topics {
        id += 1;
        let token = match &config.subscription_token_provider {
            Some(provider) => provider(topic.clone()).await,
            None => None,
        };
        let subscribe = ClientFrame::Subscribe {
            topic: topic.clone().into(),
            since,
            token: token.map(Into::into),
        };
        reader.write(id, subscribe).await?;
        waiting.insert(id, (true, topic));
    }
    for address in resume.watches {
        id += 1;
        let watch = ClientFrame::Watch {
            address: address.clone().into(),
        };
        reader.write(id, watch).await?;
        waiting.insert(id, (false, address));
    }
    while !waiting.is_empty() {
        let frame = reader.read().await?;
        let call = match frame.id() {
            Some(FrameId::Num(id)) => waiting.remove(id),
            _ => None,
        };
        match (call, frame) {
            (Some((true, topic)), ServerFrame::SubscribeAck(ack)) => {
                tracing::debug!(topic, recovered = ?ack.recovered, "resubscribed");
                resubscribed.push(Resubscribed {
                    topic,
                    epoch: ack.epoch.map(|e| e.into_owned()),
                    offset: ack.offset,
                    recovered: ack.recovered,
                });
            }
            (Some((false, address)), ServerFrame::WatchAck(ack)) => {
                rewatched.push((address, ack.online.unwrap_or(false)));
            }
            (Some((true, topic)), refusal) => failed_topics.push((topic, server_error(&refusal))),
            (Some((false, address)), refusal) => {
                failed_watches.push((address, server_error(&refusal)))
            }
            (None, other) => backlog.push(other),
        }
    }
    backlog.extend(reader.queued);
    Ok(Established {
        ws: reader.ws,
        session_id: connected.session_id.into_owned(),
        heartbeat_interval: Duration::from_millis(connected.heartbeat_interval_ms),
        heartbeat_timeout: Duration::from_millis(connected.heartbeat_timeout_ms),
        features: connected
            .features
            .into_iter()
            .map(|f| f.into_owned())
            .collect(),
        backlog,
        failed_topics,
        resubscribed,
        rewatched,
        failed_watches,
    })
}

/// Whether `frame` answers the request with frame id `id`.
fn answers(frame: &Answer, id: u64) -> bool {
    matches!(frame.id(), Some(FrameId::Num(n)) if *n == id)
}

/// The socket during the handshake: frames one at a time, though a batch
/// brings several.
struct Reader {
    ws: Ws,
    queued: VecDeque<Answer>,
}

impl Reader {
    async fn write(&mut self, id: u64, frame: ClientFrame<'static>) -> Result<(), EstablishError> {
        let request = Request {
            id: Some(FrameId::Num(id)),
            frame,
        };
        let text = request
            .to_json()
            .map_err(|e| EstablishError::Fatal(ClientError::Payload(e.to_string())))?;
        write_text(&mut self.ws, text)
            .await
            .map_err(EstablishError::Transient)
    }

    async fn read(&mut self) -> Result<Answer, EstablishError> {
        loop {
            if let Some(frame) = self.queued.pop_front() {
                return Ok(frame);
            }
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => self.queued.extend(frames(&text)),
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
                    return Err(match CloseCode::from_number(code) {
                        Some(c) if !c.reconnect() => {
                            EstablishError::Fatal(ClientError::Terminated(c))
                        }
                        _ => EstablishError::Transient(format!(
                            "closed with {code} while connecting"
                        )),
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
}

fn refused(frame: &Answer) -> EstablishError {
    let error = server_error(frame);
    match error.code() {
        Some(code) if code.temporary() => EstablishError::Transient(error.to_string()),
        _ => EstablishError::Fatal(error),
    }
}
