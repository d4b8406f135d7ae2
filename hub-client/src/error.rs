//! [`ClientError`]: every way an SDK call can fail, with the server's code,
//! message and hint preserved when the server refused.

use hub_core::protocol::{CloseCode, ErrorCode};

/// An SDK call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server refused the request (`hub:error`).
    #[error("server refused ({code}): {message} (hint: {hint})")]
    Server {
        /// The stable code.
        code: ErrorCode,
        /// The server's message.
        message: String,
        /// How to fix it.
        hint: String,
        /// With `refused`: the application's own code, as its backend
        /// gave it.
        reason: Option<String>,
    },
    /// The server's rate limit refused the frame and the client is set to surface it.
    #[error("rate limited; retry after {retry_after_ms} ms")]
    RateLimited {
        /// When the server will accept the next frame.
        retry_after_ms: u64,
    },
    /// A `request` got no reply in time.
    #[error("no reply within {0:?}")]
    Timeout(std::time::Duration),
    /// A `request`'s message was not accepted by the recipient's queue.
    #[error("request was not delivered: {0}")]
    NotDelivered(ErrorCode),
    /// The offline queue is full; the call was not queued.
    #[error("offline queue is full ({0} frames); retry when connected")]
    QueueFull(usize),
    /// Another connection took this client's address; the client stopped for good.
    #[error("evicted: another connection registered this address")]
    Evicted,
    /// The server closed the connection with a terminal code.
    #[error("closed by the server: {0}")]
    Terminated(CloseCode),
    /// The client was closed.
    #[error("the client is closed")]
    Closed,
    /// The connection could not be made or broke.
    #[error("connection failed: {0}")]
    Connect(String),
    /// A payload could not be serialized, or a reply not deserialized.
    #[error("payload (de)serialization failed: {0}")]
    Payload(String),
    /// The server sent something this SDK does not understand.
    #[error("unexpected frame from the server: {0}")]
    Protocol(String),
    /// The outbox file could not be opened, read or written.
    #[error("outbox: {0}")]
    Outbox(String),
    /// The outbox holds as many unfinished entries as it may.
    #[error("the outbox is full ({0} entries not done); wait for some to finish")]
    OutboxFull(usize),
}

impl ClientError {
    /// The server's error code, when the server refused.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server { code, .. } => Some(*code),
            Self::RateLimited { .. } => Some(ErrorCode::RateLimited),
            Self::NotDelivered(code) => Some(*code),
            _ => None,
        }
    }

    /// With [`ErrorCode::Refused`]: the application's own code for the
    /// refusal (a subscribe, publish or RPC proxy's `error.code`).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Server { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }
}
