//! Durable direct delivery: a direct message to a known address is stored
//! in that address's inbox before its sender is answered, handed to the
//! recipient's session in `seq` order, and deleted only when acknowledged
//! (`hub:ack`); a session that reconnects gets what it had not acknowledged
//! again, before anything newer.
//!
//! - [`store`] — the [`InboxStore`] seam, and the in-memory store
//! - `redb_store` — the on-disk store (feature `redb`); `segments`: its
//!   messages, one value per address per commit
//! - `writer` — the store's own thread
//! - `delivery` — where a session stands in its inbox: window, unacked, order (every store)
//! - `ledger` — the `InboxLedger` seam: where an engine numbers, caps, keeps
//!   and deletes stored messages and their `msg_id`s; `InboxRoutes`: how one
//!   reaches a recipient held on another node
//! - `desk` — the inbox actor over a ledger (every engine): attaches,
//!   hand-over in order within the window, reads, acks, receipts, claims
//! - `node_ledger` — one node's ledger over the store: group commit, caps,
//!   dedupe, expiry
//! - `answers` — where a stored send's answer goes (a caller, or a session by ticket)
//! - `history` — topic history changes, committed with the inbox batches
//! - `once` — publishes and broadcasts that take effect once per `msg_id`
//! - `retries` — the remembered message ids, for sessions to spot a retry
//! - `ports` — where sessions hand stored sends: the inbox desk
//!
//! Enable it with [`crate::HubBuilder::inbox_store`].

pub(crate) mod answers;
pub(crate) mod delivery;
pub(crate) mod desk;
pub(crate) mod history;
pub(crate) mod ledger;
pub(crate) mod node_ledger;
pub(crate) mod once;
pub(crate) mod ports;
#[cfg(feature = "redb")]
mod redb_store;
pub(crate) mod retries;
#[cfg(feature = "redb")]
mod segments;
pub mod store;
mod writer;

#[cfg(feature = "redb")]
pub use redb_store::RedbInboxStore;
pub use store::{InboxStore, MemoryInboxStore};
pub(crate) use writer::Writer;
