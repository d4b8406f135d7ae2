//! Wire protocol v1, free of actix so that hub-client shares the same types:
//! `client` (what a client sends; the server's reading of it is `decode`),
//! `server` (what the server sends; its presence frames are in `presence`), `codes` (every error and close code).
//! Every frame is one JSON object with a `"type"` field; payloads stay raw
//! JSON end to end. `docs/PROTOCOL.md` is the contract this module implements.

pub mod client;
pub mod close_codes;
pub mod codes;
mod decode;
pub mod presence;
pub mod server;

pub use client::{
    BroadcastTarget, ClientFrame, Correlation, FrameId, Request, StreamPosition, FEATURE_ACK,
    FEATURE_BATCH, FEATURE_TOKEN_REFRESH,
};
pub use close_codes::CloseCode;
pub use codes::ErrorCode;
pub use decode::{DecodeError, MAX_METHOD_BYTES};
pub use server::{DeliveryStatus, LimitsInfo, ServerDecodeError, ServerFrame, PROTOCOL_VERSION};

/// Checks that a name (address or topic) is usable: non-empty, at most
/// `max_bytes` long, and free of control characters.
///
/// # Errors
/// A human message saying what is wrong with the name.
pub fn validate_name(kind: &str, name: &str, max_bytes: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} must not be empty"));
    }
    if name.len() > max_bytes {
        return Err(format!(
            "{kind} is {} bytes, over the limit of {max_bytes}",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{kind} must not contain control characters"));
    }
    Ok(())
}

/// The user an address belongs to: the part before its first `/` when it
/// names one of the user's connections (`alice/phone`), else `None` (the
/// address is the user's own, or not a user's).
#[must_use]
pub fn user_of(address: &str) -> Option<&str> {
    address.split_once('/').map(|(user, _)| user)
}
