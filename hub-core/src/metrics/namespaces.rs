//! Deliveries and refusals by the namespace of their topic, so an operator
//! sees which part of the application a flood or a fault is in.
//!
//! The label set is fixed when the hub starts: the namespaces the config
//! names (`default` among them), in name order, at most
//! `metrics_max_namespaces`; `_other` for the ones past the bound and for
//! any namespace a client makes up (a made-up name never becomes a label:
//! the series stay bounded whatever clients send); `_none` for a request
//! that names no topic (a send, a watch). Counting is a relaxed atomic add
//! into a slot found once per topic actor or per refused request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::permissions::Permissions;
use crate::protocol::codes::ALL_ERROR_CODES;
use crate::protocol::ErrorCode;

/// The slot of what concerns no topic.
pub(crate) const NONE: usize = 0;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct NamespaceCounters {
    /// Labels by slot: `_none`, the namespaces, `_other`.
    labels: Vec<Box<str>>,
    slots: HashMap<Box<str>, usize>,
    deliveries: Box<[AtomicU64]>,
    refusals: Box<[[AtomicU64; ALL_ERROR_CODES.len()]]>,
}

impl Default for NamespaceCounters {
    fn default() -> Self {
        Self::new([crate::permissions::DEFAULT_NAMESPACE], usize::MAX)
    }
}

impl NamespaceCounters {
    /// Labels for `configured` (the first `max` in name order).
    pub(crate) fn new<'a>(configured: impl IntoIterator<Item = &'a str>, max: usize) -> Self {
        let mut names: Vec<&str> = configured.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        names.truncate(max);
        let mut labels: Vec<Box<str>> = vec!["_none".into()];
        labels.extend(names.iter().map(|n| Box::<str>::from(*n)));
        labels.push("_other".into());
        let slots = names
            .iter()
            .enumerate()
            .map(|(i, n)| (Box::<str>::from(*n), i + 1))
            .collect();
        let count = labels.len();
        Self {
            labels,
            slots,
            deliveries: (0..count).map(|_| AtomicU64::new(0)).collect(),
            refusals: (0..count)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        }
    }

    /// The slot of `topic`'s namespace.
    pub(crate) fn of_topic(&self, topic: &str) -> usize {
        self.slots
            .get(Permissions::namespace_of(topic))
            .copied()
            .unwrap_or(self.labels.len() - 1)
    }

    /// `n` frames queued by a fan-out of a topic in `slot`.
    pub(crate) fn delivered(&self, slot: usize, n: u64) {
        if let Some(counter) = self.deliveries.get(slot) {
            counter.fetch_add(n, Relaxed);
        }
    }

    /// A request about a topic in `slot` refused with `code`.
    pub(crate) fn refused(&self, slot: usize, code: ErrorCode) {
        if let Some(counters) = self.refusals.get(slot) {
            counters[code as usize].fetch_add(1, Relaxed);
        }
    }

    /// Every label with its deliveries (`_none` has none: it is left out).
    pub(crate) fn deliveries(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.labels
            .iter()
            .zip(self.deliveries.iter())
            .skip(1)
            .map(|(label, n)| (&**label, n.load(Relaxed)))
    }

    /// Every (label, code) refused at least once, with its count: only the
    /// pairs that happened are exported.
    pub(crate) fn refusals(&self) -> impl Iterator<Item = (&str, ErrorCode, u64)> + '_ {
        self.labels
            .iter()
            .zip(self.refusals.iter())
            .flat_map(|(label, counts)| {
                ALL_ERROR_CODES.iter().filter_map(move |code| {
                    let n = counts[*code as usize].load(Relaxed);
                    (n > 0).then_some((&**label, *code, n))
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_and_surplus_namespaces_count_as_other() {
        let counters = NamespaceCounters::new(["chat", "default", "feed", "zeta"], 2);
        // `chat` and `default` get labels; `feed` and `zeta` are past the bound.
        let labels: Vec<&str> = counters.deliveries().map(|(l, _)| l).collect();
        assert_eq!(labels, ["chat", "default", "_other"]);
        assert_eq!(counters.of_topic("chat:lobby"), 1);
        assert_eq!(
            counters.of_topic("lobby"),
            2,
            "no colon: the default namespace"
        );
        assert_eq!(counters.of_topic("feed:x"), 3);
        assert_eq!(counters.of_topic("made-up:x"), 3);
        counters.delivered(1, 5);
        counters.refused(3, ErrorCode::UnknownNamespace);
        counters.refused(NONE, ErrorCode::RecipientNotFound);
        let deliveries: Vec<(&str, u64)> = counters.deliveries().collect();
        assert_eq!(deliveries, [("chat", 5), ("default", 0), ("_other", 0)]);
        let refusals: Vec<(&str, ErrorCode, u64)> = counters.refusals().collect();
        assert_eq!(
            refusals,
            [
                ("_none", ErrorCode::RecipientNotFound, 1),
                ("_other", ErrorCode::UnknownNamespace, 1)
            ]
        );
    }
}
