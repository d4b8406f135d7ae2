//! [`SharedHistory`]: one history per topic for every node of the hub (the
//! Redis engine), instead of each node numbering and keeping its own.
//!
//! A publication to a topic with history is numbered and kept by the shared
//! store in one step, which also carries it to every node subscribed to the
//! topic — the publishing node too — so every node fans out the same
//! publications in the same offset order, each with its epoch. A subscriber
//! that recovers (`since`) on any node reads what it missed from the shared
//! store, always: only the store knows what the hub published while this
//! node may not have been listening (cut off from it, and not yet aware).

use std::sync::Arc;

use bytestring::ByteString;

use super::Answer;
use crate::error::HubError;
use crate::permissions::HistoryOptions;

/// What a read of a topic's shared history found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct HistoryRead {
    /// The stream's epoch; `None`: nothing was ever published (or it was
    /// forgotten).
    pub(crate) epoch: Option<Arc<str>>,
    /// The offset of the newest publication.
    pub(crate) last: u64,
    /// Every publication from this offset on is kept.
    pub(crate) covered_from: u64,
    /// The kept publications after the asked offset, oldest first (offset,
    /// frame).
    pub(crate) publications: Vec<(u64, ByteString)>,
}

/// See the module docs.
pub(crate) trait SharedHistory: std::fmt::Debug + Send + Sync + 'static {
    /// Numbers a publication of `topic`, keeps it within `options` and
    /// carries it to every node; `head` and `tail` are its frame around its
    /// offset. Answers (epoch, offset).
    fn publish(
        &self,
        topic: &str,
        head: &str,
        tail: &str,
        options: HistoryOptions,
    ) -> Answer<Result<(Arc<str>, u64), HubError>>;

    /// Whether the store's connection is up: a read while it is down
    /// would only wait for its timeout to fail.
    fn reachable(&self) -> bool;

    /// The position of `topic`'s history (starting one when there is none)
    /// and, with `after`, the kept publications after that offset.
    fn read(
        &self,
        topic: &str,
        after: Option<u64>,
        options: HistoryOptions,
    ) -> Answer<Result<HistoryRead, HubError>>;
}
