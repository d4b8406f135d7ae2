//! How a session closes: `hub:disconnect` and the close frame behind what
//! is queued (or at once, forced), the close timeout, and the end of the
//! socket that ends the actor.

use actix::prelude::*;
use bytestring::ByteString;

use super::{Phase, Session, SocketDone};
use crate::metrics::Metrics;
use crate::outbox::{OutFrame, Pushed};
use crate::protocol::server;
use crate::protocol::{CloseCode, ServerFrame};

impl Session {
    /// Starts closing with `code`: a `hub:disconnect` frame (unless the client
    /// asked to close), then the close frame, both behind whatever is queued;
    /// nothing else is queued after them.
    /// The actor stops once the close frame is written and the client's close
    /// frame (or the end of its stream) has arrived, or after
    /// `close_timeout_ms` if either does not happen. Idempotent.
    pub(super) fn begin_close(&mut self, ctx: &mut Context<Self>, code: CloseCode, forced: bool) {
        if matches!(self.phase, Phase::Closing { .. }) {
            return;
        }
        let closing = Phase::Closing { held: None, code };
        let held = match std::mem::replace(&mut self.phase, closing) {
            Phase::Connected { address, epoch } => Some((address, epoch)),
            _ => None,
        };
        self.phase = Phase::Closing { held, code };
        // Gone for good, not dropped: no grace window. A lease that ran out
        // is announced offline when it does (the directory decides it), so
        // the address leaves its topics with it, not a grace window later.
        if matches!(code, CloseCode::Kicked | CloseCode::RegistrationExpired) {
            self.departing = true;
        }
        self.node.metrics.closed(code);
        match code {
            CloseCode::HeartbeatTimeout => {
                Metrics::inc(&self.node.metrics.heartbeat_timeouts_total)
            }
            CloseCode::SlowConsumer => Metrics::inc(&self.node.metrics.slow_consumers_total),
            _ => {}
        }
        tracing::info!(parent: &self.span, reason = code.as_str(), code = code.number(), "closing session");
        // From here on a message for this session is refused (`Gone`), not
        // queued behind a close frame it could never pass.
        self.outbox.start_closing();
        if forced {
            self.handle.close_now(code);
        } else {
            // The hub's own reasons are told in a frame first; a WebSocket
            // protocol failure (RFC 6455 codes) is the close frame alone.
            if code.is_hubs_own() {
                let retry_after_ms = (code == CloseCode::ServerShutdown)
                    .then_some(self.node.config.shutdown_retry_after_ms);
                let disconnect = ServerFrame::Disconnect(server::Disconnect {
                    code: code.number(),
                    reason: code.as_str().into(),
                    reconnect: code.reconnect(),
                    retry_after_ms,
                    hint: code.hint().into(),
                });
                let frame = OutFrame::text(ByteString::from(disconnect.to_json()));
                self.handle.push_closing_frame(frame);
            }
            if self.handle.push_closing_frame(OutFrame::close(code)) != Pushed::Accepted {
                self.handle.close_now(code);
            }
        }
        ctx.run_later(self.node.config.close_timeout(), |act, ctx| {
            tracing::debug!(parent: &act.span, "close timeout; dropping connection");
            ctx.stop();
        });
    }
}

impl Handler<SocketDone> for Session {
    type Result = ();

    fn handle(&mut self, _: SocketDone, ctx: &mut Self::Context) {
        self.socket_done = true;
        // After our close frame the read side stays open for the client's
        // close frame (RFC 6455 §7.1.1): dropping it at once would answer
        // that frame with a TCP reset. `close_timeout_ms` bounds the wait.
        // A socket that failed outside a close has nothing to wait for.
        if self.peer_closed || !matches!(self.phase, Phase::Closing { .. }) {
            ctx.stop();
        }
    }
}
