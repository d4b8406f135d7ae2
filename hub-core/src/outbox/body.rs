//! [`OutboundBody`]: the receiving end of a session's queue, drained
//! straight into the socket.
//!
//! It is polled when the socket can take more: by the hub's own socket writer
//! (`transport`), or by actix-http's dispatcher as the WebSocket response's
//! body (`ws_endpoint`). Each poll encodes every frame waiting in the queue
//! into one buffer, so a busy connection gets many frames per write and a
//! frame crosses one queue on its way from a topic to the socket.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::Recipient;
use actix_http::ws::{CloseReason, Codec, Message};
use actix_web::web::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;

use super::{ConnectionGuard, OutFrame, OutboxState, Outgoing, SocketDone};
use crate::protocol::CloseCode;

/// Bytes encoded per poll before handing them to the socket, so one poll
/// cannot build an unbounded buffer from a long queue.
const MAX_BYTES_PER_POLL: usize = 64 * 1024;

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
            code: actix_http::ws::CloseCode::from(code.number()),
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
