//! A session's bounded outbound queue and the writer task that drains it into
//! the socket.
//!
//! Anyone may push into a session's queue (its own actor, topics, other
//! sessions) through a [`SessionHandle`]; pushing never waits. When the queue
//! is full the recipient is a slow consumer: the first pusher to notice flips
//! a shared flag and tells the session actor once, so a fan-out to a stuck
//! client costs one message, not one per publication.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use actix::{Addr, Recipient};
use actix_ws::CloseReason;
use bytestring::ByteString;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::{CloseSession, Session, WriterFinished};
use crate::protocol::CloseCode;

/// A session's integer id, unique within one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// One item of the outbound queue.
#[derive(Debug)]
pub(crate) enum OutFrame {
    /// A JSON text frame; fan-outs share one buffer.
    Text(ByteString),
    /// A WebSocket pong answering the client's ping.
    Pong(actix_web::web::Bytes),
    /// The close frame; the writer stops after it.
    Close(CloseCode),
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

/// State shared between a session's pushers and its writer.
#[derive(Debug, Default)]
pub(crate) struct OutboxState {
    /// Close code the writer must send at once, skipping queued frames; 0 when none.
    forced_close: AtomicU16,
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
        self.forced_close
            .compare_exchange(0, code.number(), Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
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
        self.push_frame(OutFrame::Text(frame))
    }

    pub(crate) fn push_frame(&self, frame: OutFrame) -> Pushed {
        match self.tx.try_send(frame) {
            Ok(()) => Pushed::Accepted,
            Err(TrySendError::Full(_)) => {
                self.close_now(CloseCode::SlowConsumer);
                Pushed::Slow
            }
            Err(TrySendError::Closed(_)) => Pushed::Gone,
        }
    }

    /// Makes the writer send `code` as soon as it can, dropping queued frames,
    /// and tells the actor (once) so it can stop after `close_timeout_ms`.
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

/// Drains the queue into the socket until a close frame, a forced close or a
/// dead socket, then tells the actor.
pub(crate) async fn run_writer(
    mut ws: actix_ws::Session,
    mut rx: mpsc::Receiver<OutFrame>,
    state: Arc<OutboxState>,
    addr: Addr<Session>,
) {
    while let Some(frame) = rx.recv().await {
        if let Some(code) = state.forced() {
            let _ = ws.close(Some(close_reason(code))).await;
            break;
        }
        let written = match frame {
            OutFrame::Text(text) => ws.text(text).await,
            OutFrame::Pong(bytes) => ws.pong(&bytes).await,
            OutFrame::Close(code) => {
                let _ = ws.close(Some(close_reason(code))).await;
                break;
            }
        };
        if written.is_err() {
            break;
        }
    }
    addr.do_send(WriterFinished);
}

fn close_reason(code: CloseCode) -> CloseReason {
    CloseReason {
        code: actix_ws::CloseCode::from(code.number()),
        description: Some(code.as_str().to_owned()),
    }
}
