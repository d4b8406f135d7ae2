//! What a session reads from its socket: the vocabulary between the socket
//! reader (`transport::SocketReader`, behind both transports) and the
//! session actor.

use actix::prelude::*;
use actix_web::web::Bytes;
use bytestring::ByteString;

use super::{Phase, Session};
use crate::outbox::OutFrame;
use crate::protocol::{CloseCode, ErrorCode};

/// One complete client message (continuations already joined) or a reason
/// the connection cannot go on.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A text message, valid UTF-8.
    Text(ByteString),
    /// A binary message (not part of protocol v1).
    Binary,
    /// A WebSocket ping; its payload goes back in the pong.
    Ping {
        /// Echoed in the pong.
        payload: Bytes,
        /// Whether it counts as a sign of life (see [`Inbound::alive`]).
        alive: bool,
    },
    /// A WebSocket pong.
    Pong {
        /// Whether it counts as a sign of life (see [`Inbound::alive`]).
        alive: bool,
    },
    /// The client's close frame (its code valid, its reason UTF-8).
    Close,
    /// A frame, or a message joined from continuations, over `max_message_bytes`.
    TooLarge,
    /// A WebSocket protocol violation (bad framing, an unmasked frame, a
    /// reserved bit or opcode, a fragmented control frame, a close frame with
    /// an invalid code): RFC 6455's 1002. The reason is for logs.
    Invalid(String),
    /// A text message, or a close frame's reason, that is not UTF-8 (found
    /// as soon as the fragment that breaks it arrives): RFC 6455's 1007.
    NotUtf8,
}

impl Inbound {
    /// Whether this resets the heartbeat clock. A ping or pong in the middle
    /// of a fragmented message does not: a client that keeps a message
    /// unfinished and only pings is closed at `heartbeat_timeout_ms` like a
    /// silent one, so an unfinished message is never held forever.
    pub(crate) fn alive(&self) -> bool {
        match self {
            Self::Ping { alive, .. } | Self::Pong { alive } => *alive,
            _ => true,
        }
    }
}

/// How a session takes what its reader brings: text to its requests, the
/// rest to the WebSocket's own rules (pongs, closes, RFC 6455's codes).
impl StreamHandler<Inbound> for Session {
    fn handle(&mut self, item: Inbound, ctx: &mut Self::Context) {
        if item.alive() {
            self.seen();
        }
        if matches!(item, Inbound::Close) {
            self.peer_closed = true;
        }
        if matches!(self.phase, Phase::Closing { .. }) {
            // The client's answer to our close frame completes the closing
            // handshake; anything else is ignored.
            if self.peer_closed && self.socket_done {
                ctx.stop();
            }
            return;
        }
        match item {
            Inbound::Text(text) => {
                let size = text.len() as u64;
                self.node.metrics.inbound_frame_bytes.observe(size);
                self.on_text(&text, ctx)
            }
            Inbound::Binary => {
                if self.within_rate_limit(None, ctx) {
                    let message = "binary frames are not part of protocol v1";
                    self.refuse(ctx, None, ErrorCode::BinaryNotSupported, message);
                }
            }
            Inbound::Ping { payload, .. } => {
                self.handle.push_frame(OutFrame::pong(payload));
            }
            Inbound::Pong { .. } => {}
            Inbound::Close => self.begin_close(ctx, CloseCode::Normal, false),
            Inbound::TooLarge => {
                let message = format!(
                    "frame is over max_message_bytes ({} bytes)",
                    self.node.config.max_message_bytes
                );
                self.push_error(None, ErrorCode::MessageTooLarge, &message);
                self.begin_close(ctx, CloseCode::MessageTooLarge, false);
            }
            Inbound::Invalid(reason) => {
                tracing::debug!(parent: &self.span, error = %reason, "protocol error");
                self.begin_close(ctx, CloseCode::ProtocolError, false);
            }
            Inbound::NotUtf8 => {
                tracing::debug!(parent: &self.span, "text that is not UTF-8");
                self.begin_close(ctx, CloseCode::InvalidPayload, false);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}
