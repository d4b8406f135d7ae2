//! What a session reads from its socket, whichever reader produced it.
//!
//! Two readers feed sessions: the hub's own socket reader (the lean transport
//! hub-server uses, see `transport`) and actix-ws (the `ws_endpoint` handler
//! for apps mounting the hub in their own actix-web server). Both hand the
//! session this one type, so it handles frames the same way either way.

use actix_web::web::Bytes;
use actix_ws::{AggregatedMessage, ProtocolError};
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

impl From<Result<AggregatedMessage, ProtocolError>> for Inbound {
    fn from(item: Result<AggregatedMessage, ProtocolError>) -> Self {
        match item {
            Ok(AggregatedMessage::Text(text)) => Self::Text(text),
            Ok(AggregatedMessage::Binary(_)) => Self::Binary,
            Ok(AggregatedMessage::Ping(bytes)) => Self::Ping(bytes),
            Ok(AggregatedMessage::Pong(_)) => Self::Pong,
            Ok(AggregatedMessage::Close(_)) => Self::Close,
            Err(ProtocolError::Overflow) => Self::TooLarge,
            Err(e) => Self::Invalid(e.to_string()),
        }
    }
}
