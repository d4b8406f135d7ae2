//! The session actor: one per WebSocket connection.
//!
//! It owns the read half of the socket (a stream of [`Inbound`] messages from
//! the hub's socket reader, consumed as an actix stream),
//! its address once connected, its subscriptions (so
//! cleanup is O(its own topics)), its rate limiter and the sending side of its
//! bounded outbound queue. The response body drains that queue into the
//! socket (see [`outbox`]); who drives that body depends on the transport.
//!
//! Every way a session ends goes through [`Session::begin_close`] and then
//! `stopping`, which unregisters the address and leaves each topic.

mod backend_calls;
mod closing;
mod connect;
mod extras;
mod heartbeat;
mod inbound;
mod lifecycle;
mod once;
mod presence;
mod read_switch;
mod refusals;
mod requests;
mod server_topics;
mod stored;
mod topic_tokens;
mod topics;

pub(crate) use requests::rate_limiter;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use futures_util::Stream;
use governor::DefaultDirectRateLimiter;
use tokio::sync::mpsc;
use tracing::Span;

use heartbeat::{HeartbeatTimedOut, Liveness, Unwatch, Watch};
pub(crate) use inbound::Inbound;
pub(crate) use read_switch::ReadSwitch;

use crate::durable::desk::Detach;
use crate::metrics::Metrics;
use crate::node::Node;
use crate::outbox::{
    ConnectionGuard, OutboundBody, OutboxState, SessionHandle, SessionId, SocketDone,
};
use crate::permissions::Grants;
use crate::protocol::server::EchoedId;
use crate::protocol::{CloseCode, FrameId, ServerFrame};
use crate::registry::{self, ForgetSession, Touch, TrackSession, Unregister};
use crate::seams::addresses::Epoch;
use crate::topic::registry::LeaveTopic;
use crate::topic::{Leave, Topic};

/// Mailbox capacity: only control messages come through the mailbox (frames
/// for the client go through the outbound queue).
const MAILBOX_CAPACITY: usize = 64;

/// Features a client asked for in `hub:connect`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Asked {
    /// `batch`: several frames per WebSocket message.
    pub(super) batch: bool,
    /// `ack`: it acknowledges stored messages with `hub:ack`.
    pub(super) acks: bool,
}

/// Where the session is in its life.
#[derive(Debug)]
enum Phase {
    /// Socket open, no `hub:connect` yet.
    Handshake,
    /// Authenticating and registering. The session waits for the answer
    /// (`ctx.wait`), so it cannot stop in this phase.
    Connecting,
    /// Registered under `address`; `epoch` names this holding to the registry.
    Connected { address: Arc<str>, epoch: Epoch },
    /// Closing with `code`; inbound frames are ignored.
    Closing {
        held: Option<(Arc<str>, Epoch)>,
        code: CloseCode,
    },
}

/// The session actor. See the module docs.
pub(crate) struct Session {
    id: SessionId,
    /// The id clients and logs see (a UUID).
    wire_id: Arc<str>,
    node: Arc<Node>,
    /// Carries session id, address and trace id for every log line.
    span: Span,
    /// This session's own queue handle, cloned into topics and the registry.
    handle: SessionHandle,
    /// Shared with the body: lets `stopped` end the connection.
    outbox: Arc<OutboxState>,
    phase: Phase,
    /// What this session may do, from its identity; none before `hub:connect`.
    grants: Arc<Grants>,
    /// What topics' presence shows about it (its identity's `info`).
    info: Option<Arc<serde_json::value::RawValue>>,
    /// The session connected with a `device`: its address is
    /// `identity/device` (the device has no `/`, so it is the part after
    /// the last one). A flag, not the name: it costs an idle session
    /// nothing (it fits the struct's padding).
    has_device: bool,
    /// What few sessions use (watches, topics held by a token), allocated
    /// on the first: one pointer in every idle session.
    extras: Option<Box<extras::Extras>>,
    /// It said goodbye (`hub:disconnect`) or was kicked: its address and
    /// memberships end at once, without the offline grace.
    departing: bool,
    /// Sends waiting for their answer to go out (stored ones, ones to
    /// other nodes), in order, each with its answer once in (see `stored`).
    send_answers: std::collections::VecDeque<stored::StoredSend>,
    /// The ticket of `send_answers`' front.
    send_answers_base: u64,
    /// Retries let past the rate limit (by key, see `durable::retries`);
    /// allocated on the first. Boxed: one pointer in every idle session
    /// instead of a 48-byte set that most sessions never use.
    #[allow(clippy::box_collection)]
    exempted_retries: Option<Box<HashSet<u64>>>,
    /// Topics this session is in, with their actors. Bounded by `max_topics_per_session`.
    subscriptions: HashMap<Arc<str>, Addr<Topic>>,
    /// Subscribes sent to the directory and not yet answered (count against the cap).
    pending_subscribes: HashSet<Arc<str>>,
    /// `None` when `rate_limit_per_sec` is 0.
    limiter: Option<DefaultDirectRateLimiter>,
    /// Refused frames allowed: `max_protocol_errors` per `protocol_error_window_ms`.
    error_budget: DefaultDirectRateLimiter,
    /// Last time any frame arrived, for the heartbeat timeout.
    /// Last time any frame arrived, shared with this thread's heartbeat wheel.
    liveness: Arc<Liveness>,
    /// Last registry TTL refresh; refreshes are sent at most every TTL/4.
    last_touch: Instant,
    /// The client's address (behind `trusted_proxies`, the one they name).
    peer: Option<SocketAddr>,
    /// Its IP sits out an abuse cooldown: a refused frame before
    /// `hub:connect` closes the session at once (`limits::cooldown`).
    probation: bool,
    /// The client's close frame arrived (or its stream ended).
    peer_closed: bool,
    /// Tells the reader to drop input unread (a flooder being closed).
    read_switch: ReadSwitch,
    /// The token's timers: ask for a fresh one, then expire. `None` when
    /// the session's identity does not expire.
    token_timers: Option<(SpawnHandle, SpawnHandle)>,
    /// Our close frame is written (or the socket failed): see `SocketDone`.
    socket_done: bool,
    /// Dropped when the actor is dropped; shutdown waits for all of them.
    _drain_guard: Option<mpsc::Sender<()>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.wire_id)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session actor for an upgraded WebSocket reading `stream`;
    /// returns the body that carries its frames to the client.
    pub(crate) fn launch(
        node: Arc<Node>,
        stream: impl Stream<Item = Inbound> + 'static,
        read_switch: ReadSwitch,
        trace_id: String,
        peer: Option<SocketAddr>,
        connection: ConnectionGuard,
        forwarded: Vec<(String, String)>,
    ) -> OutboundBody {
        let mut body = None;
        Session::create(|ctx| {
            ctx.add_stream(stream);
            let (session, outbound) = Session::new(
                node,
                ctx.address(),
                read_switch,
                &trace_id,
                peer,
                connection,
                forwarded,
            );
            body = Some(outbound);
            session
        });
        body.expect("Session::create runs its closure before returning")
    }

    /// A session that will run at `me`, and the body that drains its queue.
    fn new(
        node: Arc<Node>,
        me: Addr<Session>,
        read_switch: ReadSwitch,
        trace_id: &str,
        peer: Option<SocketAddr>,
        connection: ConnectionGuard,
        forwarded: Vec<(String, String)>,
    ) -> (Self, OutboundBody) {
        let id = node.next_session_id();
        if !forwarded.is_empty() {
            node.forwarded.insert(id, forwarded);
        }
        let wire_id: Arc<str> = uuid::Uuid::new_v4().to_string().into();
        let span = tracing::info_span!(
            "session",
            session_id = %wire_id,
            address = tracing::field::Empty,
            trace_id = %trace_id,
            client = tracing::field::Empty,
        );
        if let Some(peer) = peer {
            span.record("client", tracing::field::display(peer.ip()));
        }
        let (handle, rx, state) = SessionHandle::new(
            id,
            node.config.outbound_queue_frames,
            node.config.outbound_queue_bytes,
            me.clone().recipient(),
        );
        let body = OutboundBody::new(rx, state.clone(), me.recipient(), connection);
        let limiter = rate_limiter(node.config.rate_limit_per_sec, node.config.rate_limit_burst);
        let error_budget = requests::error_budget(
            node.config.max_protocol_errors,
            Duration::from_millis(node.config.protocol_error_window_ms),
        );
        let session = Session {
            id,
            wire_id,
            span,
            handle,
            outbox: state,
            phase: Phase::Handshake,
            grants: node.no_grants.clone(),
            info: None,
            has_device: false,
            extras: None,
            departing: false,
            exempted_retries: None,
            send_answers: std::collections::VecDeque::new(),
            send_answers_base: 0,
            subscriptions: HashMap::new(),
            pending_subscribes: HashSet::new(),
            limiter,
            error_budget,
            liveness: Arc::new(Liveness::new()),
            last_touch: Instant::now(),
            probation: peer.is_some_and(|p| node.cooldowns.on_probation(p.ip())),
            peer,
            peer_closed: false,
            read_switch,
            token_timers: None,
            socket_done: false,
            _drain_guard: node.drain_guard(),
            node,
        };
        (session, body)
    }

    fn address(&self) -> Option<&Arc<str>> {
        match &self.phase {
            Phase::Connected { address, .. } => Some(address),
            _ => None,
        }
    }

    /// Queues a frame for the client. A full queue makes this session a slow consumer.
    fn push(&self, frame: &ServerFrame<'_>) {
        self.handle.push(ByteString::from(frame.to_json()));
    }

    /// Records activity: resets the heartbeat clock and, at most every TTL/4,
    /// refreshes the registration.
    fn seen(&mut self) {
        let now = Instant::now();
        self.liveness.seen(now);
        if let Phase::Connected { address, epoch } = &self.phase {
            if now.duration_since(self.last_touch) >= self.node.config.registration_ttl() / 4 {
                self.last_touch = now;
                self.node.registry.do_send(Touch {
                    address: address.clone(),
                    epoch: *epoch,
                    session: self.id,
                });
            }
        }
    }

    /// Puts this session under its thread's heartbeat clock.
    fn watch_heartbeat(&self, ctx: &Context<Self>) {
        heartbeat::wheel().do_send(Watch {
            session: ctx.address(),
            liveness: self.liveness.clone(),
            timeout: self.node.config.heartbeat_timeout(),
        });
    }
}

/// An answer's echo of the request id.
fn echo(id: Option<&FrameId>) -> EchoedId<'_> {
    id.map(std::borrow::Cow::Borrowed)
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.node.registry.do_send(TrackSession {
            handle: self.handle.clone(),
        });
        // Tracked first, checked second: if the registry's `Drain` went out
        // before our `TrackSession` arrived, the draining flag was already set
        // when we read it here, so no session slips past shutdown.
        if self.node.is_draining() {
            self.begin_close(ctx, CloseCode::ServerShutdown, false);
        }
        self.watch_heartbeat(ctx);
        // A socket must register within connect_timeout_ms, pings or not.
        ctx.run_later(self.node.config.connect_timeout(), |act, ctx| {
            if matches!(act.phase, Phase::Handshake) {
                act.begin_close(ctx, CloseCode::ConnectTimeout, false);
            }
        });
        tracing::debug!(parent: &self.span, peer = ?self.peer, "session opened");
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        self.liveness.end();
        heartbeat::wheel().do_send(Unwatch {
            token: self.liveness.token,
        });
        if !matches!(self.phase, Phase::Closing { .. }) {
            // Neither side closed: the connection broke (or the client left
            // without a close frame).
            Metrics::inc(&self.node.metrics.lost);
        }
        let (held, reason) = match &self.phase {
            Phase::Connected { address, epoch } => {
                (Some((address.clone(), *epoch)), "connection_lost")
            }
            Phase::Closing { held, code } => (held.clone(), code.as_str()),
            Phase::Handshake | Phase::Connecting => (None, ""),
        };
        if let Some((address, _)) = &held {
            self.told_disconnected(address, reason);
        }
        if !self.node.config.forward_headers.is_empty() {
            self.node.forwarded.remove(&self.id);
        }
        if let Some((address, epoch)) = held {
            self.node.revocations.release(&address, self.id);
            if let Some(stored) = &self.node.stored {
                stored.detach.do_send(Detach {
                    address: address.clone(),
                    session: self.id,
                });
            }
            self.node.registry.do_send(Unregister {
                address,
                epoch,
                dropped: !self.departing,
            });
        }
        if let Some(extras) = self.extras.as_mut().filter(|e| !e.watching.is_empty()) {
            self.node.registry.do_send(registry::Unwatch {
                addresses: std::mem::take(&mut extras.watching).into_iter().collect(),
                session: self.id,
            });
        }
        let dropped = !self.departing;
        for topic in self.subscriptions.values() {
            topic.do_send(Leave {
                session: self.id,
                dropped,
            });
        }
        for topic in self.pending_subscribes.drain() {
            self.node.topic_registry.do_send(LeaveTopic {
                topic,
                session: self.id,
                dropped,
            });
        }
        self.node.registry.do_send(ForgetSession { id: self.id });
        Running::Stop
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        // A body stuck behind a client that does not read ends at its next
        // poll; that ends the response and the connection.
        self.outbox.cut();
        tracing::info!(parent: &self.span, "session closed");
    }
}

impl Handler<HeartbeatTimedOut> for Session {
    type Result = ();

    fn handle(&mut self, _: HeartbeatTimedOut, ctx: &mut Self::Context) {
        let timeout = self.node.config.heartbeat_timeout();
        if self.liveness.last_seen().elapsed() < timeout {
            // A frame arrived after the wheel looked: watch on.
            return self.watch_heartbeat(ctx);
        }
        self.begin_close(ctx, CloseCode::HeartbeatTimeout, false);
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
