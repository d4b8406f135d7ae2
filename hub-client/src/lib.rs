//! # hub-client
//!
//! The Rust SDK for Signal Hub. Today it re-exports the wire protocol shared
//! with the server; the connecting client (reconnects, resubscribe,
//! heartbeats, typed send/publish/subscribe/request) is the next piece of work.

pub use hub_core::protocol;
