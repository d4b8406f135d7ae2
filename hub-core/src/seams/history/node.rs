//! [`NodeHistory`]: one node's topic histories (the memory engine). A
//! topic's own [`History`] numbers each publication and is the history; with
//! durability on, each publication is recorded through the inbox actor's
//! store (sharing its group commit) before it is fanned out, so what a
//! subscriber has seen is always in the store.

use std::sync::Arc;

use super::{History, HistoryBudget, HistoryRead, HistoryStore, Numbering, Publishing};
use crate::durable::node_ledger::NodeLedger;
use crate::durable::store::{HistoryChange, Outcome, Remembered, StoredPublication};
use crate::error::HubError;
use crate::message_frame::encode_publication;
use crate::permissions::HistoryOptions;
use crate::seams::Answer;

/// See the module docs.
#[derive(Default)]
pub(crate) struct NodeHistory {
    /// Where publications are recorded; `None`: kept in memory only.
    recorder: Option<Arc<NodeLedger>>,
}

impl std::fmt::Debug for NodeHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeHistory")
            .field("recorded", &self.recorder.is_some())
            .finish()
    }
}

impl NodeHistory {
    /// Histories recorded in `recorder`'s commits (durability on), or kept
    /// in memory only.
    pub(crate) fn new(recorder: Option<Arc<NodeLedger>>) -> Self {
        Self { recorder }
    }
}

impl HistoryStore for NodeHistory {
    fn open(
        &self,
        options: HistoryOptions,
        budget: Arc<HistoryBudget>,
        restored: Option<History>,
        now_ms: u64,
    ) -> History {
        restored.unwrap_or_else(|| History::new(options, budget, now_ms))
    }

    fn publish(
        &self,
        topic: &Arc<str>,
        kept: &mut History,
        publication: Publishing<'_>,
    ) -> Numbering {
        let offset = kept.assign(publication.now_ms);
        let numbered = StoredPublication {
            offset,
            at_ms: publication.now_ms,
            frame: encode_publication(topic, publication.from, offset, publication.payload),
        };
        let Some(recorder) = &self.recorder else {
            return Numbering::Numbered(numbered);
        };
        // Its subscribers are not known until the commit returns.
        let memo = publication.memo.map(|memo| Remembered {
            outcome: Some(Outcome::Published {
                recipients: 0,
                offset: Some(offset),
            }),
            ..memo
        });
        let change = HistoryChange {
            topic: topic.clone(),
            publication: Some(numbered.clone()),
            position: kept.position(Some(offset)),
        };
        recorder.record_history(change, memo, Some((publication.reply_to)()));
        Numbering::Recording(numbered)
    }

    fn reachable(&self) -> bool {
        true
    }

    fn read(
        &self,
        _topic: &str,
        after: Option<u64>,
        kept: &History,
    ) -> Answer<Result<HistoryRead, HubError>> {
        let publications = after.map_or_else(Vec::new, |after| {
            kept.after(after)
                .map(|p| (p.offset, p.frame.clone()))
                .collect()
        });
        Answer::now(Ok(HistoryRead {
            epoch: Some(kept.epoch().clone()),
            last: kept.offset(),
            covered_from: kept.covered_from(),
            publications,
        }))
    }

    fn expired(&self, topic: &Arc<str>, kept: &History) {
        if let Some(recorder) = &self.recorder {
            let change = HistoryChange {
                topic: topic.clone(),
                publication: None,
                position: kept.position(None),
            };
            recorder.record_history(change, None, None);
        }
    }

    fn forget(&self, topic: Arc<str>) {
        if let Some(recorder) = &self.recorder {
            recorder.forget_topic(topic);
        }
    }
}
