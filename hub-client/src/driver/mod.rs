//! The driver task: the one owner of the socket. A `select!` loop over the
//! socket, the command channel, the heartbeat tick and rate-limit retries
//! while connected; a backoff timer and connection attempts while not. Only
//! [`Driver::run`] moves between the three link states (up, down, closed).
//!
//! Calls are *pending* from the moment the driver takes them until the
//! server's answer. A pending call that was written but not answered when the
//! link drops is written again after the reconnect (with the same `msg_id`,
//! so a server can recognise the retry); calls taken while down wait,
//! bounded by `offline_queue_capacity`.

mod establish;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::{backoff_delay, jittered};
use crate::config::{ClientConfig, RateLimitPolicy};
use crate::error::ClientError;
use crate::types::{ConnectionState, DisconnectReason, Event, IncomingMessage};
use establish::{establish, server_error, EstablishError, Established, Ws};
use hub_core::protocol::{CloseCode, ErrorCode};

/// What a [`crate::Client`] asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write `frame` (an id is added) and answer with the server's reply frame.
    Request {
        frame: Value,
        reply: oneshot::Sender<Result<Value, ClientError>>,
    },
    Subscribe {
        topic: String,
        sub_id: u64,
        tx: mpsc::Sender<Value>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Unsubscribe {
        topic: String,
        sub_id: u64,
        reply: Option<oneshot::Sender<Result<(), ClientError>>>,
    },
    /// Write a fire-and-forget `hub:send` (`"ack": false`); answer once it is written.
    SendUnacked {
        frame: Value,
        to: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Route the direct message whose `in_reply_to` is `correlation_id` to `reply`.
    AwaitReply {
        correlation_id: String,
        reply: oneshot::Sender<IncomingMessage>,
    },
    CancelReply {
        correlation_id: String,
    },
    Events {
        tx: mpsc::Sender<Event>,
    },
    Close {
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

static NEXT_SUBSCRIPTION: AtomicU64 = AtomicU64::new(1);

/// A process-unique id for one `Subscription` handle.
pub(crate) fn next_subscription_id() -> u64 {
    NEXT_SUBSCRIPTION.fetch_add(1, Ordering::Relaxed)
}

/// Who waits for a pending call's answer.
enum Waiter {
    Request(oneshot::Sender<Result<Value, ClientError>>),
    Subscribe(oneshot::Sender<Result<(), ClientError>>),
    Unsubscribe(Option<oneshot::Sender<Result<(), ClientError>>>),
    Disconnect(oneshot::Sender<Result<(), ClientError>>),
    /// A fire-and-forget send: done once written.
    Written {
        to: String,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
}

impl Waiter {
    fn fail(self, error: ClientError) {
        match self {
            Self::Request(tx) => drop(tx.send(Err(error))),
            Self::Subscribe(tx) | Self::Disconnect(tx) | Self::Written { reply: tx, .. } => {
                drop(tx.send(Err(error)))
            }
            Self::Unsubscribe(tx) => drop(tx.map(|tx| tx.send(Err(error)))),
        }
    }

    fn succeed(self, frame: Value) {
        match self {
            Self::Request(tx) => drop(tx.send(Ok(frame))),
            Self::Subscribe(tx) | Self::Disconnect(tx) | Self::Written { reply: tx, .. } => {
                drop(tx.send(Ok(())))
            }
            Self::Unsubscribe(tx) => drop(tx.map(|tx| tx.send(Ok(())))),
        }
    }
}

/// What a command asks the server for, before the driver takes it on.
struct Call {
    frame: Value,
    waiter: Waiter,
    /// A subscription to register when the call is accepted.
    subscription: Option<(String, u64, mpsc::Sender<Value>)>,
}

/// The call a command makes, or the command back when it is not one.
fn into_call(command: Command) -> Result<Call, Command> {
    // The client message id: kept across retries so a server can deduplicate.
    let msg_id = || json!(uuid::Uuid::new_v4().simple().to_string());
    Ok(match command {
        Command::Request { mut frame, reply } => {
            frame["msg_id"] = msg_id();
            Call {
                frame,
                waiter: Waiter::Request(reply),
                subscription: None,
            }
        }
        Command::SendUnacked {
            mut frame,
            to,
            reply,
        } => {
            frame["msg_id"] = msg_id();
            Call {
                frame,
                waiter: Waiter::Written { to, reply },
                subscription: None,
            }
        }
        Command::Subscribe {
            topic,
            sub_id,
            tx,
            reply,
        } => Call {
            frame: json!({"type": "hub:subscribe", "topic": topic}),
            waiter: Waiter::Subscribe(reply),
            subscription: Some((topic, sub_id, tx)),
        },
        other => return Err(other),
    })
}

struct Pending {
    /// The frame with its id, ready to write (again).
    text: String,
    /// Whether the current connection has it.
    written: bool,
    waiter: Waiter,
}

/// A live connection.
struct Conn {
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
const CLOSE_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

enum Link {
    Up(Box<Conn>),
    Down { attempt: u32, delay: Duration },
    Closed,
}

struct Driver {
    config: Arc<ClientConfig>,
    commands: mpsc::Receiver<Command>,
    /// False once every handle is dropped.
    commands_open: bool,
    state: watch::Sender<ConnectionState>,
    next_id: u64,
    /// Calls awaiting an answer, in the order they were taken.
    pending: BTreeMap<u64, Pending>,
    /// topic → the subscription handles reading it.
    subscriptions: HashMap<String, Vec<(u64, mpsc::Sender<Value>)>>,
    /// Requests waiting for their reply, by correlation id.
    replies: HashMap<String, oneshot::Sender<IncomingMessage>>,
    events: Option<mpsc::Sender<Event>>,
    /// Rate-limited calls to write again at the given time.
    retries: Vec<(Instant, u64)>,
    /// The `hub:disconnect` frame that preceded a close, for its advice.
    last_disconnect: Option<Value>,
    /// `close()` was called; the next close frame ends the client.
    closing: bool,
    /// Recent fire-and-forget sends (frame id → recipient), so a later
    /// rejection can name the recipient. Bounded by `UNACKED_MEMORY`.
    unacked: BTreeMap<u64, String>,
}

/// How many recent fire-and-forget sends are remembered for rejections.
const UNACKED_MEMORY: usize = 4096;

/// Connects once, then runs the driver in a background task.
pub(crate) async fn spawn(
    config: Arc<ClientConfig>,
    commands: mpsc::Receiver<Command>,
) -> Result<watch::Receiver<ConnectionState>, ClientError> {
    let (state, state_rx) = watch::channel(ConnectionState::Reconnecting { attempt: 0 });
    let mut driver = Driver {
        config,
        commands,
        commands_open: true,
        state,
        next_id: 1,
        pending: BTreeMap::new(),
        subscriptions: HashMap::new(),
        replies: HashMap::new(),
        events: None,
        retries: Vec::new(),
        last_disconnect: None,
        closing: false,
        unacked: BTreeMap::new(),
    };
    let token = driver.token().await;
    let first_id = driver.take_ids(1);
    let established = establish(&driver.config, token, Vec::new(), first_id)
        .await
        .map_err(EstablishError::into_client_error)?;
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

    fn take_ids(&mut self, n: usize) -> u64 {
        let first = self.next_id;
        self.next_id += n as u64;
        first
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
        }
    }

    // ---- connected ------------------------------------------------------

    /// Takes a fresh connection into use: handshake leftovers, then every
    /// call that waits to be written, in order.
    async fn up(&mut self, est: Established, reconnected: bool) -> Link {
        let refreshes = est.features.iter().any(|f| f == TOKEN_REFRESH_FEATURE);
        let conn = Conn {
            ws: est.ws,
            heartbeat: self
                .config
                .heartbeat_interval
                .unwrap_or(est.heartbeat_interval),
            dead_after: self.config.dead_after.unwrap_or(est.heartbeat_timeout),
            last_rx: Instant::now(),
            refresh_at: self.next_refresh().filter(|_| refreshes),
        };
        let mut conn = Box::new(conn);
        self.state.send_replace(ConnectionState::Connected {
            session_id: est.session_id.clone(),
        });
        for (topic, error) in est.failed_topics {
            tracing::warn!(topic, %error, "resubscribe refused; the subscription ends");
            self.subscriptions.remove(&topic);
        }
        if reconnected {
            tracing::info!(session_id = %est.session_id, "reconnected");
            self.emit(Event::Reconnected {
                session_id: est.session_id,
            })
            .await;
        }
        for frame in est.backlog {
            if let Some(next) = self.on_frame(frame, &mut conn).await {
                return next;
            }
        }
        let unwritten: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| !p.written)
            .map(|(id, _)| *id)
            .collect();
        for id in unwritten {
            if let Err(e) = self.write_pending(id, &mut conn).await {
                return self.lost(DisconnectReason::Transport(e)).await;
            }
        }
        Link::Up(conn)
    }

    async fn run_up(&mut self, mut conn: Box<Conn>) -> Link {
        let mut ping = tokio::time::interval_at(Instant::now() + conn.heartbeat, conn.heartbeat);
        loop {
            let next_retry = self.retries.iter().map(|(at, _)| *at).min();
            tokio::select! {
                item = conn.ws.next() => {
                    conn.last_rx = Instant::now();
                    match item {
                        Some(Ok(Message::Text(text))) => match serde_json::from_str::<Value>(&text) {
                            Ok(frame) => {
                                if let Some(next) = self.on_frame(frame, &mut conn).await {
                                    return next;
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "ignoring a frame that is not JSON"),
                        },
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
                        let _ = send(&mut conn, &json!({"type": "hub:disconnect"})).await;
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
                    if let Err(e) = send(&mut conn, &json!({"type": "hub:ping"})).await {
                        return self.lost(DisconnectReason::Transport(e)).await;
                    }
                }
                _ = tokio::time::sleep_until(next_retry.unwrap_or_else(Instant::now)), if next_retry.is_some() => {
                    let now = Instant::now();
                    let (due, later): (Vec<_>, Vec<_>) = self.retries.drain(..).partition(|(at, _)| *at <= now);
                    self.retries = later;
                    for (_, id) in due {
                        if let Err(e) = self.write_pending(id, &mut conn).await {
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
            Some(token) => send(conn, &json!({"type": "hub:refresh", "token": token})).await,
            None => Ok(()),
        }
    }

    async fn write_pending(&mut self, id: u64, conn: &mut Conn) -> Result<(), String> {
        let Some(pending) = self.pending.get_mut(&id) else {
            return Ok(());
        };
        pending.written = true;
        let fire_and_forget = matches!(pending.waiter, Waiter::Written { .. });
        let text = pending.text.clone();
        conn.ws
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| e.to_string())?;
        if fire_and_forget {
            // Fire-and-forget: done once written; remember it only to name
            // the recipient if the server rejects it.
            if let Some(Pending {
                waiter: Waiter::Written { to, reply },
                ..
            }) = self.pending.remove(&id)
            {
                self.unacked.insert(id, to);
                while self.unacked.len() > UNACKED_MEMORY {
                    self.unacked.pop_first();
                }
                let _ = reply.send(Ok(()));
            }
        }
        Ok(())
    }

    /// Registers a call as pending and writes it.
    async fn start_call(
        &mut self,
        frame: Value,
        waiter: Waiter,
        conn: &mut Conn,
    ) -> Result<(), String> {
        let id = self.queue_call(frame, waiter);
        self.write_pending(id, conn).await
    }

    async fn on_command_up(&mut self, command: Command, conn: &mut Conn) -> Result<(), String> {
        let command = match into_call(command) {
            Ok(call) => {
                let (frame, waiter) = self.accept(call);
                return self.start_call(frame, waiter, conn).await;
            }
            Err(other) => other,
        };
        match command {
            Command::Unsubscribe {
                topic,
                sub_id,
                reply,
            } => {
                if self.remove_subscription(&topic, sub_id) {
                    let frame = json!({"type": "hub:unsubscribe", "topic": topic});
                    self.start_call(frame, Waiter::Unsubscribe(reply), conn)
                        .await
                } else {
                    Waiter::Unsubscribe(reply).succeed(Value::Null);
                    Ok(())
                }
            }
            Command::Close { reply } => {
                self.closing = true;
                self.start_call(
                    json!({"type": "hub:disconnect"}),
                    Waiter::Disconnect(reply),
                    conn,
                )
                .await
            }
            other => {
                self.on_command_anytime(other);
                Ok(())
            }
        }
    }

    /// Takes a call on: registers its subscription, if any.
    fn accept(&mut self, call: Call) -> (Value, Waiter) {
        if let Some((topic, sub_id, tx)) = call.subscription {
            self.subscriptions
                .entry(topic)
                .or_default()
                .push((sub_id, tx));
        }
        (call.frame, call.waiter)
    }

    /// Removes one subscription handle; true when it was the topic's last.
    fn remove_subscription(&mut self, topic: &str, sub_id: u64) -> bool {
        let Some(subs) = self.subscriptions.get_mut(topic) else {
            return false;
        };
        subs.retain(|(id, _)| *id != sub_id);
        if subs.is_empty() {
            self.subscriptions.remove(topic);
            return true;
        }
        false
    }

    fn on_command_anytime(&mut self, command: Command) {
        match command {
            Command::AwaitReply {
                correlation_id,
                reply,
            } => {
                self.replies.insert(correlation_id, reply);
            }
            Command::CancelReply { correlation_id } => {
                self.replies.remove(&correlation_id);
            }
            Command::Events { tx } => self.events = Some(tx),
            _ => {}
        }
    }

    /// Handles one frame from the server. `Some(link)` ends the connection.
    async fn on_frame(&mut self, mut frame: Value, conn: &mut Conn) -> Option<Link> {
        let kind = frame["type"].as_str().unwrap_or_default().to_owned();
        match kind.as_str() {
            "hub:message" => {
                if let Some(topic) = frame["topic"].as_str().map(str::to_owned) {
                    self.deliver_topic_message(&topic, frame, conn).await;
                } else {
                    self.deliver_direct_message(&mut frame).await;
                }
            }
            "hub:pong" => {}
            "hub:disconnect" => self.last_disconnect = Some(frame),
            "hub:refresh" => {
                // The server asks for a fresh token (reserved in protocol v1).
                let _ = self.send_fresh_token(conn).await;
            }
            _ => {
                let Some(id) = frame["id"].as_u64() else {
                    tracing::debug!(kind, "ignoring a frame this client does not know");
                    return None;
                };
                if let Some(event) = self.on_answer(id, &kind, frame) {
                    self.emit(event).await;
                }
            }
        }
        None
    }

    /// Settles the call `id` answers. Returns an event when the answer is a
    /// rejection of a fire-and-forget send.
    fn on_answer(&mut self, id: u64, kind: &str, frame: Value) -> Option<Event> {
        let Some(pending) = self.pending.remove(&id) else {
            let to = self.unacked.remove(&id)?;
            let reason = match kind {
                "hub:delivery_ack" => frame["reason"].as_str().and_then(ErrorCode::from_wire),
                _ => server_error(&frame).code(),
            }?;
            return Some(Event::Undelivered { to, reason });
        };
        match kind {
            "hub:rate_limited" if self.config.rate_limit_policy == RateLimitPolicy::Retry => {
                let wait = Duration::from_millis(frame["retry_after_ms"].as_u64().unwrap_or(100));
                tracing::debug!(id, ?wait, "rate limited; will retry");
                self.pending.insert(
                    id,
                    Pending {
                        written: false,
                        ..pending
                    },
                );
                self.retries.push((Instant::now() + wait, id));
            }
            "hub:rate_limited" | "hub:error" => {
                let error = server_error(&frame);
                match pending.waiter {
                    Waiter::Unsubscribe(_) if error.code() == Some(ErrorCode::NotSubscribed) => {
                        pending.waiter.succeed(frame)
                    }
                    waiter => waiter.fail(error),
                }
            }
            _ => pending.waiter.succeed(frame),
        }
        None
    }

    async fn deliver_topic_message(&mut self, topic: &str, frame: Value, conn: &mut Conn) {
        let Some(subs) = self.subscriptions.get(topic) else {
            return;
        };
        let mut gone = Vec::new();
        for (sub_id, tx) in subs.clone() {
            // Waits when the subscription's buffer is full: backpressure reaches the
            // server, which disconnects a consumer that stays slow.
            if tx.send(frame.clone()).await.is_err() {
                gone.push(sub_id);
            }
        }
        for sub_id in gone {
            if self.remove_subscription(topic, sub_id) {
                let frame = json!({"type": "hub:unsubscribe", "topic": topic});
                let _ = self
                    .start_call(frame, Waiter::Unsubscribe(None), conn)
                    .await;
            }
        }
    }

    async fn deliver_direct_message(&mut self, frame: &mut Value) {
        let message = IncomingMessage {
            from: frame["from"].as_str().unwrap_or_default().to_owned(),
            payload: frame["payload"].take(),
            correlation_id: frame["correlation_id"].as_str().map(str::to_owned),
        };
        if let Some(waiting) = frame["in_reply_to"]
            .as_str()
            .and_then(|id| self.replies.remove(id))
        {
            let _ = waiting.send(message);
            return;
        }
        self.emit(Event::Message(message)).await;
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
        let delay = match advice.as_ref().and_then(|f| f["retry_after_ms"].as_u64()) {
            Some(ms) => jittered(Duration::from_millis(ms), fastrand::f64()),
            None => self.backoff(0),
        };
        for pending in self.pending.values_mut() {
            pending.written = false;
        }
        self.retries.clear();
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
        for (_, pending) in std::mem::take(&mut self.pending) {
            pending.waiter.fail(error.clone());
        }
        self.replies.clear();
        self.subscriptions.clear();
        self.retries.clear();
    }

    // ---- disconnected ---------------------------------------------------

    async fn run_down(&mut self, attempt: u32, delay: Duration) -> Link {
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => break,
                command = self.commands.recv(), if self.commands_open => {
                    if let Some(link) = self.on_command_down(command) {
                        return link;
                    }
                }
            }
        }
        let token = self.token().await;
        let topics: Vec<String> = self.subscriptions.keys().cloned().collect();
        let first_id = self.take_ids(1 + topics.len());
        let config = self.config.clone();
        let attempt_fut = establish(&config, token, topics, first_id);
        tokio::pin!(attempt_fut);
        let result = loop {
            tokio::select! {
                result = &mut attempt_fut => break result,
                command = self.commands.recv(), if self.commands_open => {
                    if let Some(link) = self.on_command_down(command) {
                        return link;
                    }
                }
            }
        };
        match result {
            Ok(established) => self.up(established, true).await,
            Err(EstablishError::Transient(why)) => {
                let attempt = attempt + 1;
                tracing::debug!(attempt, why, "reconnect attempt failed");
                self.state
                    .send_replace(ConnectionState::Reconnecting { attempt });
                Link::Down {
                    attempt,
                    delay: self.backoff(attempt),
                }
            }
            Err(EstablishError::Fatal(error)) => {
                tracing::warn!(%error, "reconnect refused; stopping");
                self.fail_everything(error);
                Link::Closed
            }
        }
    }

    /// Takes a command while disconnected. `Some(link)` ends the wait.
    fn on_command_down(&mut self, command: Option<Command>) -> Option<Link> {
        let Some(command) = command else {
            self.commands_open = false;
            return Some(Link::Closed);
        };
        let command = match into_call(command) {
            Ok(call) => {
                let queued = self.pending.values().filter(|p| !p.written).count();
                let capacity = self.config.offline_queue_capacity;
                if queued >= capacity {
                    call.waiter.fail(ClientError::QueueFull(capacity));
                } else {
                    let (frame, waiter) = self.accept(call);
                    self.queue_call(frame, waiter);
                }
                return None;
            }
            Err(other) => other,
        };
        match command {
            Command::Unsubscribe {
                topic,
                sub_id,
                reply,
            } => {
                // Not resubscribed on reconnect, so nothing to tell the server.
                self.remove_subscription(&topic, sub_id);
                Waiter::Unsubscribe(reply).succeed(Value::Null);
            }
            Command::Close { reply } => {
                let _ = reply.send(Ok(()));
                return Some(Link::Closed);
            }
            other => self.on_command_anytime(other),
        }
        None
    }

    /// Registers a call as pending (unwritten); returns its frame id.
    fn queue_call(&mut self, mut frame: Value, waiter: Waiter) -> u64 {
        let id = self.take_ids(1);
        frame["id"] = json!(id);
        self.pending.insert(
            id,
            Pending {
                text: frame.to_string(),
                written: false,
                waiter,
            },
        );
        id
    }
}

async fn send(conn: &mut Conn, frame: &Value) -> Result<(), String> {
    conn.ws
        .send(Message::Text(frame.to_string().into()))
        .await
        .map_err(|e| e.to_string())
}
