//! [`History`]: a topic's kept publications for recovery, numbered by
//! `offset` within an `epoch`, and its position. Owned by the topic actor;
//! numbered by it on one node (see [`NodeHistory`](super::NodeHistory)), a
//! copy of the hub's history with the Redis engine. Bounded per topic by
//! its namespace's options and per node by a [`HistoryBudget`].

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::durable::store::{StoredPublication, StoredTopic, TopicPosition};
use crate::metrics::Metrics;
use crate::permissions::HistoryOptions;

/// The node's bytes of history, shared by every topic: counted in the
/// `history_bytes` gauge, bounded by `history_max_total_bytes`.
#[derive(Debug)]
pub(crate) struct HistoryBudget {
    max: u64,
    metrics: Arc<Metrics>,
}

impl HistoryBudget {
    pub(crate) fn new(max: u64, metrics: Arc<Metrics>) -> Self {
        Self { max, metrics }
    }

    fn add(&self, bytes: usize) {
        Metrics::add(&self.metrics.history_bytes, bytes as u64);
    }

    fn sub(&self, bytes: usize) {
        self.metrics.history_bytes.fetch_sub(bytes as u64, Relaxed);
    }

    fn over(&self) -> bool {
        self.metrics.history_bytes.load(Relaxed) > self.max
    }
}

/// Offsets skip this far after an unclean stop: a subscriber may have seen
/// offsets whose commit was lost with the power (with `fsync = "interval"`),
/// and they must not name other publications.
pub(crate) const OFFSET_SKIP_AFTER_CRASH: u64 = 1 << 20;

/// One topic's history. See the module docs.
#[derive(Debug)]
pub(crate) struct History {
    options: HistoryOptions,
    epoch: Arc<str>,
    /// Recorded publications, oldest first.
    kept: VecDeque<StoredPublication>,
    /// Their frames' bytes.
    bytes: usize,
    /// The offset given to the newest publication, recorded or not.
    assigned: u64,
    /// The offset of the newest recorded (and fanned-out) publication.
    recorded: u64,
    /// Every recorded publication from this offset on is kept.
    covered_from: u64,
    /// Last publication or subscriber leaving, in Unix milliseconds.
    touched_ms: u64,
    /// The node's bytes of history, which `bytes` is part of.
    budget: Arc<HistoryBudget>,
    /// A copy of the hub's history (the Redis engine): whether this copy
    /// follows the hub's stream without a gap (its epoch and offsets are
    /// the hub's, and everything from `covered_from` on is here).
    /// Always true for a history of this node's own.
    follows: bool,
}

impl Drop for History {
    fn drop(&mut self) {
        self.budget.sub(self.bytes);
    }
}

/// A fresh epoch: random, short.
fn new_epoch() -> Arc<str> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..12].into()
}

impl History {
    /// A topic's history from its first publication (a new epoch).
    pub(crate) fn new(options: HistoryOptions, budget: Arc<HistoryBudget>, now_ms: u64) -> Self {
        Self {
            budget,
            options,
            epoch: new_epoch(),
            kept: VecDeque::new(),
            bytes: 0,
            assigned: 0,
            recorded: 0,
            covered_from: 1,
            touched_ms: now_ms,
            follows: true,
        }
    }

    /// This node's copy of a history kept for the whole hub: it follows
    /// the hub's stream from the first publication it hears.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn shared(options: HistoryOptions, budget: Arc<HistoryBudget>, now_ms: u64) -> Self {
        let mut history = Self::new(options, budget, now_ms);
        history.follows = false;
        history
    }

    /// Whether this copy follows the hub's stream (see `follows`).
    pub(crate) fn follows(&self) -> bool {
        self.follows
    }

    /// This copy may have missed publications (the node was cut off from
    /// the hub): it is not trusted again until it hears the next one.
    pub(crate) fn lose_track(&mut self) {
        self.follows = false;
    }

    /// Keeps a publication numbered for the whole hub, in `epoch`. One that
    /// does not follow the last one kept (another epoch, a gap) starts the
    /// copy anew from it. Returns false for one already kept.
    pub(crate) fn adopt(&mut self, epoch: &Arc<str>, publication: StoredPublication) -> bool {
        let next = publication.offset == self.recorded + 1;
        if self.follows && *epoch == self.epoch && publication.offset <= self.recorded {
            return false;
        }
        if !self.follows || *epoch != self.epoch || !next {
            while !self.kept.is_empty() {
                self.drop_oldest();
            }
            self.epoch = epoch.clone();
            self.covered_from = publication.offset;
            self.recorded = publication.offset.saturating_sub(1);
            self.follows = true;
        }
        self.assigned = publication.offset;
        self.touch(publication.at_ms);
        self.keep(publication);
        true
    }

    /// A history as the store kept it, cut to today's limits. `clean`:
    /// whether the last run stopped cleanly (else offsets skip ahead).
    pub(crate) fn restore(
        options: HistoryOptions,
        budget: Arc<HistoryBudget>,
        stored: StoredTopic,
        clean: bool,
        now_ms: u64,
    ) -> Self {
        let position = stored.position;
        let skip = if clean { 0 } else { OFFSET_SKIP_AFTER_CRASH };
        let mut history = Self {
            options,
            epoch: position.epoch,
            kept: VecDeque::new(),
            bytes: 0,
            assigned: position.last_offset + skip,
            recorded: position.last_offset + skip,
            covered_from: position.covered_from,
            touched_ms: position.touched_ms,
            budget,
            follows: true,
        };
        for publication in stored.publications {
            if publication.offset >= history.covered_from {
                history.bytes += publication.frame.len();
                history.budget.add(publication.frame.len());
                history.kept.push_back(publication);
            }
        }
        history.trim();
        history.expire(now_ms);
        history
    }

    /// The epoch.
    pub(crate) fn epoch(&self) -> &Arc<str> {
        &self.epoch
    }

    /// The offset of the newest publication subscribers have been given.
    pub(crate) fn offset(&self) -> u64 {
        self.recorded
    }

    /// The options it was made with.
    pub(crate) fn options(&self) -> HistoryOptions {
        self.options
    }

    /// When it was last touched, in Unix milliseconds.
    pub(crate) fn touched_ms(&self) -> u64 {
        self.touched_ms
    }

    /// Marks activity (a subscriber left): the position is kept from now.
    pub(crate) fn touch(&mut self, now_ms: u64) {
        self.touched_ms = self.touched_ms.max(now_ms);
    }

    /// Numbers a new publication.
    pub(crate) fn assign(&mut self, now_ms: u64) -> u64 {
        self.assigned += 1;
        self.touch(now_ms);
        self.assigned
    }

    /// The position to store with a publication numbered `offset` (or, for
    /// `None`, as things stand). Its `covered_from` is what is kept now,
    /// never more: the store may keep a little more than this history,
    /// never less.
    pub(crate) fn position(&self, offset: Option<u64>) -> TopicPosition {
        TopicPosition {
            epoch: self.epoch.clone(),
            last_offset: offset.unwrap_or(self.recorded).max(self.recorded),
            covered_from: self.covered_from,
            touched_ms: self.touched_ms,
        }
    }

    /// Keeps a recorded publication, dropping the oldest beyond the size
    /// and byte limits.
    pub(crate) fn keep(&mut self, publication: StoredPublication) {
        self.recorded = self.recorded.max(publication.offset);
        self.bytes += publication.frame.len();
        self.budget.add(publication.frame.len());
        self.kept.push_back(publication);
        self.trim();
    }

    /// A publication numbered `offset` could not be recorded: nobody got
    /// it, and nobody recovering will.
    pub(crate) fn skip(&mut self, offset: u64) {
        self.recorded = self.recorded.max(offset);
    }

    /// Drops the oldest beyond the topic's limits, and while the node is
    /// over its budget (down to the newest).
    fn trim(&mut self) {
        while self.kept.len() > self.options.size
            || ((self.bytes > self.options.max_bytes || self.budget.over()) && self.kept.len() > 1)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some(gone) = self.kept.pop_front() {
            self.bytes -= gone.frame.len();
            self.budget.sub(gone.frame.len());
            self.covered_from = self.covered_from.max(gone.offset + 1);
        }
    }

    /// Drops publications older than the TTL; whether any went.
    pub(crate) fn expire(&mut self, now_ms: u64) -> bool {
        let before = self.kept.len();
        let cutoff = now_ms.saturating_sub(self.options.ttl_ms);
        while self.kept.front().is_some_and(|p| p.at_ms < cutoff) {
            self.drop_oldest();
        }
        // With nothing kept, what came before the next offset is all gone.
        if self.kept.is_empty() && before > 0 {
            self.covered_from = self.covered_from.max(self.recorded + 1);
        }
        self.kept.len() != before
    }

    /// When the oldest kept publication expires, in Unix milliseconds.
    pub(crate) fn next_expiry_ms(&self) -> Option<u64> {
        self.kept
            .front()
            .map(|p| p.at_ms.saturating_add(self.options.ttl_ms))
    }

    /// Whether its position may be forgotten: nothing kept, and no
    /// activity for the position's TTL.
    pub(crate) fn forgettable(&self, now_ms: u64) -> bool {
        self.kept.is_empty() && now_ms >= self.touched_ms.saturating_add(self.options.meta_ttl_ms)
    }

    /// Every kept publication from this offset on.
    pub(crate) fn covered_from(&self) -> u64 {
        self.covered_from
    }

    /// The kept publications after `offset`, oldest first.
    pub(crate) fn after(&self, offset: u64) -> impl Iterator<Item = &StoredPublication> {
        self.kept.iter().filter(move |p| p.offset > offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seams::history::{HistoryStore, NodeHistory};
    use bytestring::ByteString;

    fn budget() -> Arc<HistoryBudget> {
        Arc::new(HistoryBudget::new(u64::MAX, Arc::new(Metrics::default())))
    }

    fn options(size: usize, max_bytes: usize) -> HistoryOptions {
        HistoryOptions {
            size,
            max_bytes,
            ttl_ms: 1_000,
            meta_ttl_ms: 10_000,
        }
    }

    fn publish(history: &mut History, at_ms: u64, frame: &'static str) -> u64 {
        let offset = history.assign(at_ms);
        history.keep(StoredPublication {
            offset,
            at_ms,
            frame: ByteString::from_static(frame),
        });
        offset
    }

    /// What a recovery from `offset` in `epoch` replays, through the
    /// memory engine's store; `None`: it does not recover.
    fn replay(history: &History, epoch: &str, offset: u64) -> Option<Vec<u64>> {
        let read = NodeHistory::default().read("t", Some(offset), history);
        let read = read.into_now().ok()?.ok()?;
        read.recovers(epoch, offset)
            .then(|| read.publications.iter().map(|(o, _)| *o).collect())
    }

    fn offsets(history: &History, offset: u64) -> Option<Vec<u64>> {
        replay(history, &history.epoch().clone(), offset)
    }

    #[test]
    fn recovers_within_the_kept_window_and_refuses_beyond_it() {
        let mut history = History::new(options(3, 1_000), budget(), 0);
        for _ in 0..5 {
            publish(&mut history, 0, "x");
        }
        assert_eq!(offsets(&history, 2), Some(vec![3, 4, 5]));
        assert_eq!(offsets(&history, 4), Some(vec![5]));
        assert_eq!(offsets(&history, 5), Some(vec![]), "up to date");
        assert_eq!(offsets(&history, 1), None, "offset 2 is gone");
        assert_eq!(offsets(&history, 6), None, "ahead of the topic");
        assert_eq!(replay(&history, "other", 4), None, "another epoch");
    }

    #[test]
    fn bytes_and_age_drop_the_oldest() {
        let mut history = History::new(options(10, 4), budget(), 0);
        publish(&mut history, 0, "ab");
        publish(&mut history, 0, "cd");
        publish(&mut history, 500, "ef");
        assert_eq!(offsets(&history, 1), Some(vec![2, 3]), "4 bytes kept");
        assert_eq!(history.next_expiry_ms(), Some(1_000));
        assert!(history.expire(1_001));
        assert_eq!(offsets(&history, 2), Some(vec![3]));
        assert!(history.expire(1_501));
        assert_eq!(offsets(&history, 3), Some(vec![]), "nothing missed");
        assert_eq!(offsets(&history, 2), None, "offset 3 expired");
        assert!(!history.forgettable(1_501) && history.forgettable(10_500));
    }

    #[test]
    fn over_the_node_budget_the_publishing_topic_drops_its_own_oldest() {
        let metrics = Arc::new(Metrics::default());
        let shared = Arc::new(HistoryBudget::new(8, metrics.clone()));
        let mut quiet = History::new(options(10, 1_000), shared.clone(), 0);
        let mut busy = History::new(options(10, 1_000), shared.clone(), 0);
        publish(&mut quiet, 0, "aa");
        publish(&mut quiet, 0, "bb");
        publish(&mut busy, 0, "cc");
        publish(&mut busy, 0, "dd");
        assert_eq!(metrics.history_bytes.load(Relaxed), 8, "within the budget");
        publish(&mut busy, 0, "ee");
        assert_eq!(
            offsets(&quiet, 0),
            Some(vec![1, 2]),
            "the quiet topic keeps all"
        );
        assert_eq!(offsets(&busy, 1), Some(vec![2, 3]), "the busy one paid");
        assert_eq!(metrics.history_bytes.load(Relaxed), 8);
        drop(busy);
        assert_eq!(
            metrics.history_bytes.load(Relaxed),
            4,
            "a retired topic gives its bytes back"
        );
    }

    #[test]
    fn a_restore_after_an_unclean_stop_skips_offsets() {
        let mut history = History::new(options(10, 1_000), budget(), 0);
        publish(&mut history, 0, "a");
        publish(&mut history, 0, "b");
        let stored = StoredTopic {
            topic: "t".into(),
            position: history.position(None),
            publications: history.kept.iter().cloned().collect(),
        };
        let mut restored = History::restore(options(10, 1_000), budget(), stored.clone(), true, 0);
        assert_eq!(offsets(&restored, 0), Some(vec![1, 2]));
        assert_eq!(restored.assign(0), 3);
        let mut crashed = History::restore(options(10, 1_000), budget(), stored, false, 0);
        assert_eq!(crashed.assign(0), 3 + OFFSET_SKIP_AFTER_CRASH);
        assert_eq!(
            offsets(&crashed, 2),
            Some(vec![]),
            "what was seen still recovers"
        );
    }
}
