//! Stand-ins for tests and benches: session handles whose actor never runs.

use actix::prelude::*;
use tokio::sync::mpsc;

#[cfg(test)]
use crate::outbox::{ConnectionGuard, OutboundBody};
use crate::outbox::{OutFrame, SessionHandle, SessionId, SessionOrder, SocketDone};

/// Stands in for session actors; never runs.
struct NoSession;

impl Actor for NoSession {
    type Context = Context<Self>;
}

impl Handler<SessionOrder> for NoSession {
    type Result = ();

    fn handle(&mut self, _: SessionOrder, _: &mut Self::Context) {}
}

impl Handler<SocketDone> for NoSession {
    type Result = ();

    fn handle(&mut self, _: SocketDone, _: &mut Self::Context) {}
}

/// A close recipient whose mailbox is already gone: closes fail at once
/// instead of piling up.
fn detached_closer() -> Recipient<SessionOrder> {
    let ctx = Context::<NoSession>::new();
    ctx.address().recipient()
}

/// A session handle with a queue of `queue_frames`, and the queue's receiving end.
pub(crate) fn handle(id: u64, queue_frames: usize) -> (SessionHandle, mpsc::Receiver<OutFrame>) {
    let (handle, rx, _) =
        SessionHandle::new(SessionId(id), queue_frames, usize::MAX, detached_closer());
    (handle, rx)
}

/// A session handle and the body that drains its queue (of `queue_frames`
/// and `queue_bytes`), with no actor behind them.
#[cfg(test)]
pub(crate) fn handle_and_body(
    queue_frames: usize,
    queue_bytes: usize,
) -> (SessionHandle, OutboundBody) {
    let ctx = Context::<NoSession>::new();
    let (handle, rx, state) = SessionHandle::new(
        SessionId(1),
        queue_frames,
        queue_bytes,
        ctx.address().recipient(),
    );
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let guard = ConnectionGuard::acquire(&metrics, 1).expect("a free slot");
    let body = OutboundBody::new(rx, state, ctx.address().recipient(), guard);
    (handle, body)
}
