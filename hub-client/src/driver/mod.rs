//! The driver task: the one owner of the socket. A `select!` loop over the
//! socket, the command channel, the heartbeat tick and rate-limit retries
//! while connected; a backoff timer and connection attempts while not. Only
//! [`Driver::run`] moves between the three link states (up, down, closed).
//!
//! - `command` — what handles ask, the calls it becomes, who waits for them
//! - `calls` — pending calls from taken to answered (plain bookkeeping)
//! - `outbound` — commands taken on and written as calls
//! - `inbound` — where each frame from the server goes
//! - `down` — while disconnected: queue, back off, try again
//! - `establish` — one connection attempt: connect, register, resubscribe, rewatch
//! - `watches` — watched addresses and what the server last told of each
//! - `wire` — frames on the socket, batches split into frames

mod calls;
mod command;
mod down;
mod establish;
mod inbound;
mod outbound;
mod positions;
mod watches;
mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hub_core::protocol::server::Disconnect;
use hub_core::protocol::{ClientFrame, CloseCode};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::{backoff_delay, jittered};
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::types::{ConnectionState, DisconnectReason, Event, IncomingMessage};
use calls::Calls;
pub(crate) use command::{Answer, Command, Frame, SubscriptionTx};
use establish::{establish, EstablishError, Established, Resume};
use positions::Positions;
use watches::Watches;
use wire::{frames, write_frame, Ws};

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for one `Subscription` handle.
pub(crate) fn next_subscription_id() -> u64 {
    NEXT_SUBSCRIPTION.fetch_add(1, Ordering::Relaxed)
}

/// A live connection.
pub(crate) struct Conn {
    ws: Ws,
    heartbeat: Duration,
    dead_after: Duration,
    last_rx: Instant,
    /// When to send a fresh token (`hub:refresh`), if the server supports it.
    refresh_at: Option<Instant>,
}

/// The feature a server announces when it accepts `hub:refresh`.
const TOKEN_REFRESH_FEATURE: &str = "token_refresh";

/// How long answering the server's close frame may take before the socket is
/// dropped anyway (the server then sees the end of the stream instead).
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) enum Link {
    Up(Box<Conn>),
    Down { attempt: u32, delay: Duration },
    Closed,
}

pub(crate) struct Driver {
    config: Arc<ClientConfig>,
    commands: mpsc::Receiver<Command>,
    /// False once every handle is dropped.
    commands_open: bool,
    state: watch::Sender<ConnectionState>,
    calls: Calls,
    /// topic → the subscription handles reading it.
    subscriptions: HashMap<String, Vec<(u64, SubscriptionTx)>>,
    /// Topics the server subscribed this session to (`hub:subscribed`):
    /// their publications come as [`Event::Publication`].
    server_topics: std::collections::HashSet<String>,
    /// Where each topic's stream stands, to resubscribe from.
    positions: Positions,
    /// Watched addresses, to watch again after a reconnect.
    watches: Watches,
    /// Requests waiting for their reply, by correlation id.
    replies: HashMap<String, oneshot::Sender<IncomingMessage>>,
    events: Option<mpsc::Sender<Event>>,
    /// The `hub:disconnect` that preceded a close, for its advice.
    last_disconnect: Option<Disconnect<'static>>,
    /// `close()` was called; the next close frame ends the client.
    closing: bool,
    /// Direct messages that arrived before any event stream was asked for.
    early: Vec<Event>,
    /// The highest stored `seq` handed on (to the event stream or a
    /// waiting request): a redelivered message at or below it is a duplicate.
    handed_on: u64,
    /// The highest stored `seq` the application has taken (shared with
    /// its event stream): what a duplicate is acknowledged up to.
    taken: Arc<AtomicU64>,
    /// Which of `config.urls` the next attempt goes to.
    url: usize,
}

/// Connects once, then runs the driver in a background task.
pub(crate) async fn spawn(
    config: Arc<ClientConfig>,
    commands: mpsc::Receiver<Command>,
    taken: Arc<AtomicU64>,
) -> Result<watch::Receiver<ConnectionState>, ClientError> {
    let (state, state_rx) = watch::channel(ConnectionState::Reconnecting { attempt: 0 });
    let mut driver = Driver {
        config,
        commands,
        commands_open: true,
        state,
        calls: Calls::new(),
        subscriptions: HashMap::new(),
        server_topics: std::collections::HashSet::new(),
        positions: Positions::default(),
        watches: Watches::default(),
        replies: HashMap::new(),
        events: None,
        last_disconnect: None,
        closing: false,
        handed_on: 0,
        early: Vec::new(),
        taken,
        url: 0,
    };
    let mut failures = Vec::new();
    let established = loop {
        let token = driver.token().await;
        let first_id = driver.calls.take_ids(1);
        let url = driver.config.urls[driver.url].clone();
        match establish(&driver.config, &url, token, Resume::default(), first_id).await {
            Ok(established) => break established,
            // Each URL once; a refusal that no node would change ends it.
            Err(EstablishError::Transient(why)) if driver.url + 1 < driver.config.urls.len() => {
                failures.push(why);
                driver.url += 1;
            }
            Err(EstablishError::Transient(why)) if !failures.is_empty() => {
                failures.push(why);
                return Err(ClientError::Connect(failures.join("; ")));
            }
            Err(e) => return Err(e.into_client_error()),
        }
    };
    let link = driver.up(established, false).await;
    tokio::spawn(driver.run(link));
    Ok(state_rx)
}

impl Driver {
    async fn run(mut self, mut link: Link) {
        loop {
            link = match link {
                Link::Up(conn) => self.run_up(conn).await,
                Link::Down { attempt, delay } => self.run_down(attempt, delay).await,
                Link::Closed => break,
            };
        }
        self.fail_everything(ClientError::Closed);
        self.state.send_replace(ConnectionState::Closed);
        self.emit(Event::Closed).await;
    }

    async fn token(&self) -> Option<String> {
        match &self.config.token_provider {
            Some(provider) => provider().await,
            None => self.config.token.clone(),
        }
    }

    async fn emit(&mut self, event: Event) {
        if let Some(tx) = &self.events {
            if tx.send(event).await.is_err() {
                self.events = None;
            }
        } else if matches!(
            event,
            Event::Message(_) | Event::Subscribed { .. } | Event::Publication(_)
        ) && self.early.len() < self.config.event_buffer
        {
            // No event stream yet (messages stored while away, and the
            // server's own subscriptions, arrive right after the connect):
            // kept for the first one.
            self.early.push(event);
        }
    }

    /// Whether a direct message arriving now would be kept: a stream takes
    /// it, or the buffer for the first stream has room.
    fn can_take_message(&self) -> bool {
        self.events.is_some() || self.early.len() < self.config.event_buffer
    }

    // ---- connected ------------------------------------------------------

    /// Takes a fresh connection into use: handshake leftovers, then every
    /// call that waits to be written, in order.
    async fn up(&mut self, est: Established, reconnected: bool) -> Link {
        // A new session: the server announces its own subscriptions again.
        self.server_topics.clear();
        let refreshes = est.features.iter().any(|f| f == TOKEN_REFRESH_FEATURE);
        let mut conn = Box::new(Conn {
            ws: est.ws,
            heartbeat: self
                .config
                .heartbeat_interval
                .unwrap_or(est.heartbeat_interval),
            dead_after: self.config.dead_after.unwrap_or(est.heartbeat_timeout),
            last_rx: Instant::now(),
            refresh_at: self.next_refresh().filter(|_| refreshes),
        });
        self.state.send_replace(ConnectionState::Connected {
            session_id: est.session_id.clone(),
        });
        for (topic, error) in est.failed_topics {
            tracing::warn!(topic, %error, "resubscribe refused; the subscription ends");
            self.subscriptions.remove(&topic);
            self.positions.forget(&topic);
        }
        for r in &est.resubscribed {
            self.positions
                .resubscribed(&r.topic, r.epoch.as_deref(), r.offset);
        }
        for (address, error) in est.failed_watches {
            tracing::warn!(address, %error, "watch refused after a reconnect; it ends");
            self.watches.unwatch(&address);
        }
        // What changed while away, as the events it would have been.
        let mut changed = Vec::new();
        for (address, online) in est.rewatched {
            if self.watches.told(&address, online) {
                changed.push(match online {
                    true => Event::Online { address },
                    false => Event::Offline { address },
                });
            }
        }
        if reconnected {
            tracing::info!(session_id = %est.session_id, "reconnected");
            self.emit(Event::Reconnected {
                session_id: est.session_id,
            })
            .await;
            for r in est.resubscribed {
                let (topic, recovered) = (r.topic, r.recovered);
                self.emit(Event::Resubscribed { topic, recovered }).await;
            }
        }
        for event in changed {
            self.emit(event).await;
        }
        for frame in est.backlog {
            if let Some(next) = self.on_frame(frame, &mut conn).await {
                return next;
            }
        }
        for id in self.calls.unwritten() {
            if let Err(e) = self.write_call(id, &mut conn).await {
                return self.lost(DisconnectReason::Transport(e)).await;
            }
        }
        Link::Up(conn)
    }

    async fn run_up(&mut self, mut conn: Box<Conn>) -> Link {
        let mut ping = tokio::time::interval_at(Instant::now() + conn.heartbeat, conn.heartbeat);
        loop {
            let next_retry = self.calls.next_retry();
            tokio::select! {
                item = conn.ws.next() => {
                    conn.last_rx = Instant::now();
                    match item {
                        Some(Ok(Message::Text(text))) => {
                            for frame in frames(&text) {
                                if let Some(next) = self.on_frame(frame, &mut conn).await {
                                    return next;
                                }
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            // Answer the server's close frame (tungstenite has
                            // queued the reply) so the closing handshake completes
                            // and the server can end the session at once.
                            let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, conn.ws.flush()).await;
                            return self.on_close(frame).await;
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return self.lost(DisconnectReason::Transport(e.to_string())).await,
                        None => return self.lost(DisconnectReason::Transport("connection ended".into())).await,
                    }
                }
                command = self.commands.recv(), if self.commands_open => {
                    let Some(command) = command else {
                        // Every handle is gone: leave politely.
                        self.commands_open = false;
                        let _ = write_frame(&mut conn.ws, ClientFrame::Disconnect).await;
                        let _ = conn.ws.close(None).await;
                        return Link::Closed;
                    };
                    if let Err(e) = self.on_command_up(command, &mut conn).await {
                        return self.lost(DisconnectReason::Transport(e)).await;
                    }
                }
                _ = tokio::time::sleep_until(conn.refresh_at.unwrap_or_else(Instant::now)), if conn.refresh_at.is_some() => {
                    conn.refresh_at = self.next_refresh();
                    if let Err(e) = self.send_fresh_token(&mut conn).await {
                        return self.lost(DisconnectReason::Transport(e)).await;
                    }
                }
                _ = ping.tick() => {
                    if conn.last_rx.elapsed() > conn.dead_after {
                        tracing::warn!(silence = ?conn.last_rx.elapsed(), "server stopped answering");
                        return self.lost(DisconnectReason::HeartbeatTimeout).await;
                    }
                    if let Err(e) = write_frame(&mut conn.ws, ClientFrame::Ping).await {
                        return self.lost(DisconnectReason::Transport(e)).await;
                    }
                }
                _ = tokio::time::sleep_until(next_retry.unwrap_or_else(Instant::now)), if next_retry.is_some() => {
                    for id in self.calls.due_retries(Instant::now()) {
                        if let Err(e) = self.write_call(id, &mut conn).await {
                            return self.lost(DisconnectReason::Transport(e)).await;
                        }
                    }
                }
            }
        }
    }

    /// When the current token should be replaced: 80 % into its lifetime.
    fn next_refresh(&self) -> Option<Instant> {
        self.config
            .token_lifetime
            .map(|l| Instant::now() + l.mul_f64(0.8))
    }

    async fn send_fresh_token(&mut self, conn: &mut Conn) -> Result<(), String> {
        match self.token().await {
            Some(token) => {
                let refresh = ClientFrame::Refresh {
                    token: token.into(),
                };
                write_frame(&mut conn.ws, refresh).await
            }
            None => Ok(()),
        }
    }

    /// Answers the server's `hub:sub_refresh` with a fresh token for
    /// `topic` from the provider (none: the topic is left to expire).
    async fn send_fresh_topic_token(
        &mut self,
        topic: String,
        conn: &mut Conn,
    ) -> Result<(), String> {
        let Some(provider) = &self.config.subscription_token_provider else {
            return Ok(());
        };
        let Some(token) = provider(topic.clone()).await else {
            return Ok(());
        };
        let refresh = ClientFrame::SubRefresh {
            topic: topic.into(),
            token: token.into(),
        };
        write_frame(&mut conn.ws, refresh).await
    }

    async fn on_close(&mut self, frame: Option<CloseFrame>) -> Link {
        let (code, reason) = frame
            .map(|f| (u16::from(f.code), f.reason.to_string()))
            .unwrap_or((1005, String::new()));
        if self.closing {
            return Link::Closed;
        }
        match CloseCode::from_number(code) {
            Some(CloseCode::DuplicateConnection) => {
                tracing::warn!("evicted by another connection with this address; not reconnecting");
                self.fail_everything(ClientError::Evicted);
                self.emit(Event::Evicted).await;
                Link::Closed
            }
            Some(terminal) if !terminal.reconnect() => {
                tracing::warn!(code, reason, "closed by the server; not reconnecting");
                self.fail_everything(ClientError::Terminated(terminal));
                self.emit(Event::Disconnected {
                    reason: DisconnectReason::Server { code, reason },
                    will_reconnect: false,
                })
                .await;
                Link::Closed
            }
            _ => self.lost(DisconnectReason::Server { code, reason }).await,
        }
    }

    /// The link broke but may be rebuilt: unanswered calls will be written
    /// again on the next connection.
    async fn lost(&mut self, reason: DisconnectReason) -> Link {
        if self.closing {
            // `close()` was called: the link is gone either way; do not come back.
            return Link::Closed;
        }
        tracing::info!(?reason, "connection lost; reconnecting");
        let advice = self.last_disconnect.take();
        let delay = match advice.and_then(|d| d.retry_after_ms) {
            Some(ms) => jittered(Duration::from_millis(ms), fastrand::f64()),
            None => self.backoff(0),
        };
        self.calls.link_lost();
        self.state
            .send_replace(ConnectionState::Reconnecting { attempt: 0 });
        self.emit(Event::Disconnected {
            reason,
            will_reconnect: true,
        })
        .await;
        Link::Down { attempt: 0, delay }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff_delay(
            attempt,
            self.config.backoff_initial,
            self.config.backoff_max,
            fastrand::f64(),
        )
    }

    fn fail_everything(&mut self, error: ClientError) {
        self.calls.fail_all(&error);
        self.replies.clear();
        self.subscriptions.clear();
    }
}
