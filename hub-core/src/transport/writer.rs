//! Writes a session's outbound body straight to the socket's write half.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::io::AsyncWrite;

use crate::outbox::OutboundBody;

/// Drains `body` into `io`: each chunk is every frame that was waiting,
/// encoded together, so a busy connection gets many frames per write.
///
/// Ends when the body ends (the close frame is written, then the write half is
/// shut down), on a write error, or as soon as the session is gone even if
/// the socket is stuck mid-write behind a client that does not read: the
/// connection is released then, not when the kernel gives up on it.
#[derive(Debug)]
pub(crate) struct SocketWriter<W> {
    body: OutboundBody,
    io: W,
    /// The part of the current chunk the socket has not taken yet.
    pending: Bytes,
    shutting_down: bool,
}

impl<W: AsyncWrite + Unpin> SocketWriter<W> {
    pub(crate) fn new(body: OutboundBody, io: W) -> Self {
        Self {
            body,
            io,
            pending: Bytes::new(),
            shutting_down: false,
        }
    }
}

impl<W: AsyncWrite + Unpin> Future for SocketWriter<W> {
    type Output = io::Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.body.is_cut(cx) {
                return Poll::Ready(Ok(()));
            }
            if this.shutting_down {
                return Pin::new(&mut this.io).poll_shutdown(cx);
            }
            if !this.pending.is_empty() {
                match Pin::new(&mut this.io).poll_write(cx, &this.pending) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        let _ = this.pending.split_to(n);
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            match Pin::new(&mut this.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.pending = chunk,
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.shutting_down = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
