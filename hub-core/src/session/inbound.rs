//! What a session reads from its socket: the vocabulary between the socket
//! reader (`transport::SocketReader`, behind both transports) and the
//! session actor.

use actix_web::web::Bytes;
use bytestring::ByteString;

/// One complete client message (continuations already joined) or a reason
/// the connection cannot go on.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A text message, valid UTF-8.
    Text(ByteString),
    /// A binary message (not part of protocol v1).
    Binary,
    /// A WebSocket ping; its payload goes back in the pong.
    Ping(Bytes),
    /// A WebSocket pong.
    Pong,
    /// The client's close frame.
    Close,
    /// A frame, or a message joined from continuations, over `max_message_bytes`.
    TooLarge,
    /// A WebSocket protocol violation (bad framing, unmasked frame, text that
    /// is not UTF-8); the reason is for logs.
    Invalid(String),
}
