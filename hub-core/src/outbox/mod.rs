//! A session's bounded outbound queue: the one path every frame for a client
//! takes, whoever produced it (the session itself, a topic, another session,
//! the application).
//!
//! Anyone may push into a session's queue through a [`SessionHandle`];
//! pushing never waits. The queue is bounded twice: in frames
//! (`outbound_queue_frames`) and in bytes (`outbound_queue_bytes`, so a
//! consumer of large messages cannot hold frames-times-size of memory; a
//! frame shared by a fan-out counts in every queue that holds it). When
//! either bound is reached the recipient is a slow consumer: the first pusher to notice flips a shared flag and tells the
//! session actor once, so a fan-out to a stuck client costs one message, not
//! one per publication.
//!
//! The other end of the queue is [`OutboundBody`] (`body.rs`), polled when the
//! socket can take more. This module also holds the two messages the queue's
//! ends send back to the session actor ([`SessionOrder`], [`SocketDone`]) and
//! the [`ConnectionGuard`] the body keeps, so that topics, the registry and
//! the transports reach a session without depending on the session module.

mod body;
mod budget;
pub(crate) mod events;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix::{Message, Recipient};
use actix_web::web::Bytes;
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use tokio::sync::mpsc::{self, error::TrySendError};

pub(crate) use body::OutboundBody;

use crate::limits::per_ip::IpSlot;
use crate::metrics::Metrics;
use crate::protocol::CloseCode;

/// A session's integer id, unique within one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionId(pub(crate) u64);

/// What the hub orders a session to do, from outside its own frames.
/// Handled by the session actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) enum SessionOrder {
    /// Close with `code`. `forced`: the queue is full, skip it and send
    /// the close frame as soon as the socket takes it.
    Close { code: CloseCode, forced: bool },
    /// Subscribe to the topic (a server-side subscription: `hub:subscribed`).
    Subscribe(Arc<str>),
    /// End the subscription to the topic (`hub:unsubscribed`, `server`).
    Unsubscribe(Arc<str>),
}

/// The outbound body was dropped: the close frame is written (and the write
/// side shut), or the connection is gone. Handled by the session actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct SocketDone;

/// One item of the outbound queue: a single pointer. A bounded tokio queue
/// allocates its first block of 32 slots when it is created, so the slot size
/// is memory every connection holds even while idle (a 40-byte frame enum made
/// that block 1.3 KiB; a pointer makes it 0.3 KiB). A fan-out pushes clones of
/// one `OutFrame`: a reference-count increment per subscriber.
#[derive(Debug, Clone)]
pub(crate) struct OutFrame(Arc<Outgoing>);

/// What an [`OutFrame`] carries.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A JSON text frame; with the moment the publication it carries
    /// arrived at this node (for the delivery latency histogram).
    Text(ByteString, Option<std::time::Instant>),
    /// A WebSocket pong answering the client's ping.
    Pong(Bytes),
    /// The close frame; the body ends after it.
    Close(CloseCode),
}

impl OutFrame {
    /// The bytes this frame counts against `outbound_queue_bytes`.
    pub(crate) fn size(&self) -> usize {
        match &*self.0 {
            Outgoing::Text(text, _) => text.len(),
            Outgoing::Pong(bytes) => bytes.len(),
            Outgoing::Close(_) => 0,
        }
    }

    /// The text of a text frame (for tests).
    #[cfg(test)]
    pub(crate) fn as_text(&self) -> Option<&str> {
        match &*self.0 {
            Outgoing::Text(text, _) => Some(text),
            _ => None,
        }
    }

    /// A text frame.
    pub(crate) fn text(text: ByteString) -> Self {
        Self(Arc::new(Outgoing::Text(text, None)))
    }

    /// A publication's text frame, fanned out; it arrived at `received`.
    pub(crate) fn published(text: ByteString, received: std::time::Instant) -> Self {
        Self(Arc::new(Outgoing::Text(text, Some(received))))
    }

    /// A pong carrying the ping's payload.
    pub(crate) fn pong(payload: Bytes) -> Self {
        Self(Arc::new(Outgoing::Pong(payload)))
    }

    /// The close frame.
    pub(crate) fn close(code: CloseCode) -> Self {
        Self(Arc::new(Outgoing::Close(code)))
    }
}

/// What happened to a pushed frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// In the queue.
    Accepted,
    /// The queue is full; the session is being closed as a slow consumer.
    Slow,
    /// The session is gone or closing.
    Gone,
}

/// State shared between a session's pushers, its actor and its body.
#[derive(Debug)]
pub(crate) struct OutboxState {
    /// Bytes of the frames in the queue (see [`OutFrame::size`]) against
    /// the byte bound, and the close code the body must send at once,
    /// skipping queued frames.
    budget: budget::Budget,
    /// The session is gone: end the body (and the connection) at the next poll.
    cut: AtomicBool,
    /// The session is closing: its last frames are queued (or about to be),
    /// and nothing pushed after them would ever be written, so others'
    /// pushes are refused as `Gone` — a sender hears "not found", not a
    /// false "accepted".
    closing: AtomicBool,
    /// The client asked for batches (`features: ["batch"]`): text frames
    /// waiting together go out as one WebSocket message, one per line.
    batching: AtomicBool,
    /// Wakes the body for a forced close or a cut while its queue is idle.
    waker: AtomicWaker,
}

impl OutboxState {
    fn new(max_bytes: usize) -> Self {
        Self {
            budget: budget::Budget::new(max_bytes),
            cut: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            batching: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    fn forced(&self) -> Option<CloseCode> {
        self.budget.forced().and_then(CloseCode::from_number)
    }

    /// Sets the forced close code; true for the first caller only.
    fn force(&self, code: CloseCode) -> bool {
        let first = self.budget.force(code.number());
        self.waker.wake();
        first
    }

    /// A frame of `size` bytes left the queue.
    pub(crate) fn dequeued(&self, size: usize) {
        self.budget.give_back(size);
    }

    /// Refuses every later push but the session's own closing frames.
    pub(crate) fn start_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// From now on, text frames waiting together are sent as one message.
    pub(crate) fn set_batching(&self, on: bool) {
        self.batching.store(on, Ordering::Release);
    }

    /// Ends the body without a close frame (the session has stopped).
    pub(crate) fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// A cheap, clonable way to reach one session: push frames into its queue, or
/// tell its actor to close.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    /// The session's id.
    pub(crate) id: SessionId,
    tx: mpsc::Sender<OutFrame>,
    state: Arc<OutboxState>,
    /// The session actor, for closes; a recipient so tests and benches can stand in.
    closer: Recipient<SessionOrder>,
}

impl SessionHandle {
    /// A queue of `capacity` frames and `max_bytes` bytes: the handle that
    /// pushes into it, its receiving end (for [`OutboundBody::new`]) and the
    /// state both share.
    pub(crate) fn new(
        id: SessionId,
        capacity: usize,
        max_bytes: usize,
        closer: Recipient<SessionOrder>,
    ) -> (Self, mpsc::Receiver<OutFrame>, Arc<OutboxState>) {
        let (tx, rx) = mpsc::channel(capacity);
        let state = Arc::new(OutboxState::new(max_bytes));
        let handle = Self {
            id,
            tx,
            state: state.clone(),
            closer,
        };
        (handle, rx, state)
    }

    /// Pushes a text frame without waiting.
    pub(crate) fn push(&self, frame: ByteString) -> Pushed {
        self.push_frame(OutFrame::text(frame))
    }

    /// Pushes a frame without waiting; refused once the session is closing.
    pub(crate) fn push_frame(&self, frame: OutFrame) -> Pushed {
        if self.state.closing.load(Ordering::Acquire) {
            return Pushed::Gone;
        }
        self.push_closing_frame(frame)
    }

    /// Pushes one of the session's own last frames (`hub:disconnect`, the
    /// close frame), which go in although the session is closing.
    pub(crate) fn push_closing_frame(&self, frame: OutFrame) -> Pushed {
        let size = frame.size();
        if !self.state.budget.take(size) {
            self.close_now(CloseCode::SlowConsumer);
            return Pushed::Slow;
        }
        match self.tx.try_send(frame) {
            Ok(()) => Pushed::Accepted,
            Err(TrySendError::Full(_)) => {
                self.state.dequeued(size);
                self.close_now(CloseCode::SlowConsumer);
                Pushed::Slow
            }
            Err(TrySendError::Closed(_)) => {
                self.state.dequeued(size);
                Pushed::Gone
            }
        }
    }

    /// Whether the session is closing (or gone): a close asked now would
    /// change nothing.
    pub(crate) fn is_closing(&self) -> bool {
        self.state.closing.load(Ordering::Acquire)
    }

    /// Makes the body send `code` as soon as the socket takes it, dropping
    /// queued frames, and tells the actor (once) so it can stop after
    /// `close_timeout_ms`.
    pub(crate) fn close_now(&self, code: CloseCode) {
        if self.state.force(code) {
            // A control message, not fan-out: it must arrive even though the
            // session is overloaded, so it bypasses the mailbox capacity.
            self.closer
                .do_send(SessionOrder::Close { code, forced: true });
        }
    }

    /// Frames queued and not yet taken by the writer.
    pub(crate) fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Asks the session to close gracefully: a `hub:disconnect` frame, then the close frame.
    pub(crate) fn close(&self, code: CloseCode) {
        self.closer.do_send(SessionOrder::Close {
            code,
            forced: false,
        });
    }

    /// Orders the session to subscribe to, or leave, a topic (the server's
    /// decision, not its client's).
    pub(crate) fn order(&self, order: SessionOrder) {
        self.closer.do_send(order);
    }
}

/// Counts an open connection for `max_connections`, its client IP's caps
/// and the metrics, from admission until its socket is really gone (the body
/// holds it).
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    metrics: Arc<Metrics>,
    _ip: Option<IpSlot>,
}

impl ConnectionGuard {
    /// Reserves a connection slot, or `None` when `max` are open.
    pub(crate) fn acquire(metrics: &Arc<Metrics>, max: usize) -> Option<Self> {
        use std::sync::atomic::Ordering::Relaxed;
        if metrics.connections.fetch_add(1, Relaxed) >= max as u64 {
            metrics.connections.fetch_sub(1, Relaxed);
            return None;
        }
        Metrics::inc(&metrics.connections_total);
        Some(Self {
            metrics: metrics.clone(),
            _ip: None,
        })
    }

    /// Also holds the connection's slot among its IP's.
    pub(crate) fn with_ip(mut self, slot: Option<IpSlot>) -> Self {
        self._ip = slot;
        self
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        Metrics::dec(&self.metrics.connections);
    }
}
