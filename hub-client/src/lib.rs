//! # hub-client
//!
//! The Rust SDK for Signal Hub. It hides the socket, the heartbeats and the
//! reconnects, and never drops a call it took: calls made while disconnected
//! wait in a bounded queue, and calls the server had not answered when the
//! connection broke are sent again after the reconnect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hub_client::ClientError> {
//! use hub_client::Client;
//! let client = Client::builder("ws://127.0.0.1:8080/ws").address("alice").connect().await?;
//! let mut room = client.subscribe::<String>("room").await?;
//! client.publish("room", &"hello").await?;
//! let ack = client.send("bob", &serde_json::json!({"text": "psst"})).await?;
//! println!("bob's queue took it: {}", ack.is_accepted());
//! let first = room.next().await;
//! # Ok(()) }
//! ```
//!
//! Works on any tokio runtime; no actix needed.
//!
//! ## Layout
//! - `client` — the [`Client`] handle: every call
//! - `subscription` — [`Subscription`] and [`EventStream`], what a client reads
//! - `config` — [`ClientBuilder`]: every timing and bound
//! - `driver` — the task that owns the socket: link states, calls, routing
//!   (frames are hub-core's own `protocol` types, on both sides of the wire)
//! - `outbox` — [`Outbox`]: calls kept in a file until answered, across
//!   process restarts (feature `outbox`, on by default)
//! - `backoff` — exponential backoff with full jitter (a pure function)
//! - `types` — acks, messages, events, states
//! - `error` — [`ClientError`]

mod backoff;
mod client;
mod config;
mod driver;
mod error;
#[cfg(feature = "outbox")]
mod outbox;
mod presence;
mod rpc;
mod subscription;
mod tls;
mod types;

pub use client::Client;
pub use config::{ClientBuilder, RateLimitPolicy};
pub use error::ClientError;
#[cfg(feature = "outbox")]
pub use outbox::{Outbox, OutboxCall, OutboxEntry, OutboxOptions, OutboxState};
pub use subscription::{EventStream, Subscription};
pub use types::{
    BroadcastAck, CloseCode, ConnectionState, DeliveryAck, DeliveryStatus, DisconnectReason,
    ErrorCode, Event, IncomingMessage, Member, PresencePage, Publication, PublishAck, Receipt,
    Recipients, TopicMessage,
};

/// The README's examples, compiled as doctests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
