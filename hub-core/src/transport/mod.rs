//! The hub's own WebSocket transport, for servers built on actix-http's
//! HTTP/1 service (hub-server is one).
//!
//! actix-web handlers cannot take a connection away from the HTTP/1
//! dispatcher, so a session behind [`crate::ws_endpoint`] keeps the
//! dispatcher's two 8 KiB buffers for its whole life, plus a second channel
//! actix-ws opens for writing. Here the dispatcher hands the upgraded
//! connection over ([`upgrade_service`]); the session's actor reads the socket
//! (`SocketReader`) and a writer drains its outbound queue into it
//! (`SocketWriter`). Neither holds a buffer while the connection is idle.
//!
//! Both transports run the same session actor and speak the same protocol.

mod reader;
mod socket;
mod upgrade;
mod writer;

pub(crate) use reader::SocketReader;
pub use socket::Socket;
pub use upgrade::upgrade_service;
pub(crate) use writer::SocketWriter;
