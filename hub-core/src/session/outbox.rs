//! A session's bounded outbound queue, and the response body that drains it
//! straight into the socket.
//!
//! Anyone may push into a session's queue (its own actor, topics, other
//! sessions) through a [`SessionHandle`]; pushing never waits. When the queue
//! is full the recipient is a slow consumer: the first pusher to notice flips
//! a shared flag and tells the session actor once, so a fan-out to a stuck
//! client costs one message, not one per publication.
//!
//! The other end of the queue is [`OutboundBody`], polled when the socket can
//! take more: by the hub's own socket writer (`transport`), or by actix-http's
//! dispatcher as the WebSocket response's body (`ws_endpoint`). Each poll
//! encodes every frame waiting in the queue into one buffer, so a busy
//! connection gets many frames per write and a frame crosses one queue on its
//! way from a topic to the socket.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::Recipient;
use actix_http::ws::{Codec, Message};
use actix_web::web::{Bytes, BytesMut};
use actix_ws::CloseReason;
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use futures_util::Stream;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::codec::Encoder;

use super::{CloseSession, ConnectionGuard, SocketDone};
use crate::protocol::CloseCode;

/// Bytes encoded per poll before handing them to the socket, so one poll
/// cannot build an unbounded buffer from a long queue.
const MAX_BYTES_PER_POLL: usize = 64 * 1024;

/// A session's integer id, unique within one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

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
    /// A JSON text frame.
    Text(ByteString),
    /// A WebSocket pong answering the client's ping.
    Pong(Bytes),
    /// The close frame; the body ends after it.
    Close(CloseCode),
}

impl OutFrame {
    /// A text frame.
    pub(crate) fn text(text: ByteString) -> Self {
        Self(Arc::new(Outgoing::Text(text)))
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
    /// The session is gone.
    Gone,
}

/// State shared between a session's pushers, its actor and its body.
#[derive(Debug, Default)]
pub(crate) struct OutboxState {
    /// Close code the body must send at once, skipping queued frames; 0 when none.
    forced_close: AtomicU16,
    /// The session is gone: end the body (and the connection) at the next poll.
    cut: AtomicBool,
    /// The session is closing: its last frames are queued (or about to be),
    /// and nothing pushed after them would ever be written, so others'
    /// pushes are refused as `Gone` — a sender hears "not found", not a
    /// false "accepted".
    closing: AtomicBool,
    /// Wakes the body for a forced close or a cut while its queue is idle.
    waker: AtomicWaker,
}

impl OutboxState {
    fn forced(&self) -> Option<CloseCode> {
        match self.forced_close.load(Ordering::Acquire) {
            0 => None,
            n => CloseCode::from_number(n),
        }
    }

    /// Sets the forced close code; true for the first caller only.
    pub(crate) fn force(&self, code: CloseCode) -> bool {
        let first = self
            .forced_close
            .compare_exchange(0, code.number(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        self.waker.wake();
        first
    }

    /// Refuses every later push but the session's own closing frames.
    pub(crate) fn start_closing(&self) {
        self.closing.store(true, Ordering::Release);
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
    closer: Recipient<CloseSession>,
}

impl SessionHandle {
    pub(crate) fn new(
        id: SessionId,
        capacity: usize,
        closer: Recipient<CloseSession>,
    ) -> (Self, mpsc::Receiver<OutFrame>, Arc<OutboxState>) {
        let (tx, rx) = mpsc::channel(capacity);
        let state = Arc::new(OutboxState::default());
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
        match self.tx.try_send(frame) {
            Ok(()) => Pushed::Accepted,
            Err(TrySendError::Full(_)) => {
                self.close_now(CloseCode::SlowConsumer);
                Pushed::Slow
            }
            Err(TrySendError::Closed(_)) => Pushed::Gone,
        }
    }

    /// Makes the body send `code` as soon as the socket takes it, dropping
    /// queued frames, and tells the actor (once) so it can stop after
    /// `close_timeout_ms`.
    pub(crate) fn close_now(&self, code: CloseCode) {
        if self.state.force(code) {
            // A control message, not fan-out: it must arrive even though the
            // session is overloaded, so it bypasses the mailbox capacity.
            self.closer.do_send(CloseSession { code, forced: true });
        }
    }

    /// Asks the session to close gracefully: a `hub:disconnect` frame, then the close frame.
    pub(crate) fn close(&self, code: CloseCode) {
        self.closer.do_send(CloseSession {
            code,
            forced: false,
        });
    }
}

/// Drains the session's queue into the socket, as a stream of encoded chunks.
pub(crate) struct OutboundBody {
    rx: mpsc::Receiver<OutFrame>,
    state: Arc<OutboxState>,
    codec: Codec,
    buf: BytesMut,
    /// The close frame is encoded (or the session is gone): end after `buf`.
    done: bool,
    /// Told when the body is dropped: the response, and so the socket, is finished.
    on_drop: Option<Recipient<SocketDone>>,
    /// Counts this connection against `max_connections` until the socket is
    /// really gone, which can be after the session actor stopped (a client
    /// that does not read keeps its socket until the kernel gives up).
    _connection: ConnectionGuard,
}

impl std::fmt::Debug for OutboundBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl OutboundBody {
    pub(crate) fn new(
        rx: mpsc::Receiver<OutFrame>,
        state: Arc<OutboxState>,
        on_drop: Recipient<SocketDone>,
        connection: ConnectionGuard,
    ) -> Self {
        Self {
            rx,
            state,
            codec: Codec::new(),
            buf: BytesMut::new(),
            done: false,
            on_drop: Some(on_drop),
            _connection: connection,
        }
    }

    /// True once the session is gone; `cx` is woken when that happens.
    pub(crate) fn is_cut(&self, cx: &mut Context<'_>) -> bool {
        self.state.waker.register(cx.waker());
        self.state.cut.load(Ordering::Acquire)
    }

    fn encode(&mut self, message: Message) {
        // Encoding a frame into a growable buffer cannot fail.
        let _ = self.codec.encode(message, &mut self.buf);
    }

    fn encode_close(&mut self, code: CloseCode) {
        self.encode(Message::Close(Some(CloseReason {
            code: actix_ws::CloseCode::from(code.number()),
            description: Some(code.as_str().to_owned()),
        })));
        self.done = true;
    }
}

impl Stream for OutboundBody {
    type Item = Result<Bytes, actix_web::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done && this.buf.is_empty() {
            return Poll::Ready(None);
        }
        this.state.waker.register(cx.waker());
        if this.state.cut.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        while !this.done && this.buf.len() < MAX_BYTES_PER_POLL {
            if let Some(code) = this.state.forced() {
                this.encode_close(code);
                break;
            }
            match this.rx.poll_recv(cx) {
                Poll::Ready(Some(OutFrame(frame))) => {
                    // The last holder of a shared fan-out frame (and the only
                    // holder of any other) takes the bytes without a clone.
                    let message = match Arc::try_unwrap(frame) {
                        Ok(Outgoing::Text(text)) => Message::Text(text),
                        Ok(Outgoing::Pong(bytes)) => Message::Pong(bytes),
                        Ok(Outgoing::Close(code)) => {
                            this.encode_close(code);
                            continue;
                        }
                        Err(shared) => match &*shared {
                            Outgoing::Text(text) => Message::Text(text.clone()),
                            Outgoing::Pong(bytes) => Message::Pong(bytes.clone()),
                            Outgoing::Close(code) => {
                                this.encode_close(*code);
                                continue;
                            }
                        },
                    };
                    this.encode(message);
                }
                Poll::Ready(None) => this.done = true,
                Poll::Pending => break,
            }
        }
        if !this.buf.is_empty() {
            return Poll::Ready(Some(Ok(this.buf.split().freeze())));
        }
        if this.done {
            Poll::Ready(None)
        } else {
            // Nothing waiting: let the buffer go with the last chunk instead of
            // keeping its spare capacity for a connection that may stay idle.
            this.buf = BytesMut::new();
            Poll::Pending
        }
    }
}

impl Drop for OutboundBody {
    fn drop(&mut self) {
        if let Some(session) = self.on_drop.take() {
            session.do_send(SocketDone);
        }
    }
}
