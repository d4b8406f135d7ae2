//! Transports: every way a client reaches a session, under one contract.
//!
//! Every transport (the hub's own WebSocket, the actix-web WebSocket
//! handler, Server-Sent Events):
//!
//! 1. asks admission first — draining, the handshake, the origin, the
//!    client IP's caps, `max_connections` — and answers a refusal as HTTP
//!    with a JSON body `{code, message, hint}` before any session exists;
//! 2. starts the same session actor with the admission's connection slot
//!    and trace id, hands it the client's frames in order, and stops
//!    reading when it says so;
//! 3. drains the session's bounded outbound queue (its outbox) into the
//!    connection, the close frame last: a WebSocket closes with the
//!    session's close code (the hub's own 4xxx codes for the hub's own
//!    reasons, RFC 6455's 1002/1007/1009 for protocol failures), an event
//!    stream ends with a `hub:close` event carrying the same code.
//!
//! So auth, permissions, rate limits, error and close codes, heartbeats and
//! queues are the session's, the same whichever transport carries them.
//!
//! ## The hub's own WebSocket
//!
//! For servers built on actix-http's HTTP/1 service (hub-server is one).
//! actix-web handlers cannot take a connection away from the HTTP/1
//! dispatcher, so a session behind [`crate::ws_endpoint`] keeps the
//! dispatcher's two 8 KiB buffers for its whole life, plus a second channel
//! actix-ws opens for writing. Here the dispatcher hands the upgraded
//! connection over ([`upgrade_service`]); the session's actor reads the socket
//! (`SocketReader`) and a writer drains its outbound queue into it
//! (`SocketWriter`). Neither holds a buffer while the connection is idle.
//!
//! Both transports run the same session actor and speak the same protocol.

pub(crate) mod admission;
mod endpoint;
mod reader;
mod socket;
mod sse;
mod upgrade;
mod writer;

pub use admission::trace_id;
pub use endpoint::ws_endpoint;
pub(crate) use reader::SocketReader;
pub use socket::Socket;
pub use sse::{sse_command_endpoint, sse_endpoint};
pub use upgrade::upgrade_service;
pub(crate) use writer::SocketWriter;
