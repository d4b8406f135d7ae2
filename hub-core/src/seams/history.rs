//! [`HistoryStore`]: where a topic's history is numbered, kept and read —
//! the engine's, for both engines.
//!
//! Every topic with history holds a [`History`] (its kept publications and
//! position) and asks its engine's store to number each publication and to
//! read what a recovering subscriber missed. What comes back is the same
//! for every engine: a publication numbered in an epoch, fanned out in
//! offset order, and a [`HistoryRead`] for a recovery.
//!
//! - One node ([`NodeHistory`]): the topic's own `History` is the history.
//!   A publication is numbered by it and recorded through the inbox actor's
//!   store (group commit) before it is fanned out; a read answers at once
//!   from it. No extra hop on the publish path.
//! - Many nodes (the Redis engine): the store numbers a publication and
//!   keeps it, and carries it to every node subscribed to the topic — the
//!   publishing one too — so every node fans out the same publications in
//!   the same offset order. The topic's `History` is this node's copy. A
//!   recovery (`since`) always reads the store: only the store knows what
//!   the hub published while this node may not have been listening.

mod kept;
mod node;

pub(crate) use kept::{History, HistoryBudget};
pub(crate) use node::NodeHistory;

use std::sync::Arc;

use actix::Recipient;
use bytestring::ByteString;
use serde_json::value::RawValue;

use super::Answer;
use crate::durable::history::Recorded;
use crate::durable::store::{Remembered, StoredPublication};
use crate::error::HubError;
use crate::permissions::HistoryOptions;

/// What a read of a topic's history found.
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

impl HistoryRead {
    /// Whether a subscriber that saw up to `offset` in `epoch` recovers
    /// from this read: same epoch, not ahead of it, and nothing it missed
    /// is gone. Never a partial replay.
    pub(crate) fn recovers(&self, epoch: &str, offset: u64) -> bool {
        self.epoch.as_deref() == Some(epoch)
            && offset <= self.last
            && offset + 1 >= self.covered_from
    }
}

/// A publication to be numbered, as the topic has it.
pub(crate) struct Publishing<'a> {
    pub(crate) from: &'a str,
    pub(crate) payload: &'a RawValue,
    /// The publisher's `msg_id`, claimed for this publication: a store that
    /// records it keeps it in the publication's own commit.
    pub(crate) memo: Option<Remembered>,
    /// The topic, for a store that reports commits with [`Recorded`].
    pub(crate) reply_to: &'a dyn Fn() -> Recipient<Recorded>,
    /// Now, in Unix milliseconds.
    pub(crate) now_ms: u64,
}

/// How a publication was numbered.
pub(crate) enum Numbering {
    /// Numbered and final: fan it out and keep it now.
    Numbered(StoredPublication),
    /// Numbered, its commit under way: fan it out when [`Recorded`] comes
    /// back (commits come back in offset order).
    Recording(StoredPublication),
    /// Numbered by the store, which brings it back to this node's topic
    /// with its epoch (`EngineEvents::published`) to be fanned out then;
    /// answers (epoch, offset) once the store took it.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Carried(Answer<Result<(Arc<str>, u64), HubError>>),
}

/// See the module docs.
pub(crate) trait HistoryStore: std::fmt::Debug + Send + Sync + 'static {
    /// The history a new topic holds: `restored` from the node's store
    /// when it has one, else a new one.
    fn open(
        &self,
        options: HistoryOptions,
        budget: Arc<HistoryBudget>,
        restored: Option<History>,
        now_ms: u64,
    ) -> History;

    /// Numbers a publication of `topic` (whose history is `kept`).
    fn publish(
        &self,
        topic: &Arc<str>,
        kept: &mut History,
        publication: Publishing<'_>,
    ) -> Numbering;

    /// Whether the store can be read now: a read while it is cut off would
    /// only wait for its timeout to fail.
    fn reachable(&self) -> bool;

    /// The position of `topic`'s history and, with `after`, the kept
    /// publications after that offset.
    fn read(
        &self,
        topic: &str,
        after: Option<u64>,
        kept: &History,
    ) -> Answer<Result<HistoryRead, HubError>>;

    /// `kept` dropped expired publications: its position changed.
    fn expired(&self, topic: &Arc<str>, kept: &History);

    /// A retired topic's history and position are forgotten.
    fn forget(&self, topic: Arc<str>);
}
