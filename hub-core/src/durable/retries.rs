//! [`RetryIds`]: which (sender, `msg_id`) pairs the inbox actor remembers,
//! readable by every session without asking the actor. A session lets a
//! retry of a remembered send past its rate limit — once per id and
//! session, so replaying one id cannot be used to flood — and the actor
//! answers it from its memory without storing anything.
//!
//! Keys are hashes with this process's random keys: a false positive (two
//! pairs, one hash) would only spare one frame the rate limit.
//!
//! With the Redis engine the ids live in Redis; the node's inbox actor
//! remembers here the ones it stored or claimed itself, for the dedupe
//! window, at most `redis_retry_ids` at once ([`Recent`]), so a retry
//! through the same node is spared too. One through another node is
//! charged.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use dashmap::DashSet;

/// Hashes of the remembered (sender, `msg_id`) pairs.
#[derive(Debug, Default)]
pub(crate) struct RetryIds {
    hasher: RandomState,
    ids: DashSet<u64>,
}

impl RetryIds {
    /// The key of `msg_id` used by `sender`.
    pub(crate) fn key(&self, sender: &str, msg_id: &str) -> u64 {
        self.hasher.hash_one((sender, msg_id))
    }

    pub(crate) fn insert(&self, sender: &str, msg_id: &str) {
        self.ids.insert(self.key(sender, msg_id));
    }

    pub(crate) fn remove(&self, sender: &str, msg_id: &str) {
        self.ids.remove(&self.key(sender, msg_id));
    }

    pub(crate) fn contains(&self, key: u64) -> bool {
        self.ids.contains(&key)
    }
}

/// The ids a node stored or claimed itself, oldest first, each forgotten
/// when the dedupe window passes (or to make room): for a ledger that does
/// not keep them on the node (Redis).
#[derive(Debug)]
pub(crate) struct Recent {
    order: VecDeque<(u64, Instant)>,
    /// Ids remembered at most; the oldest go first.
    max: usize,
}

impl Recent {
    /// Remembers at most `max` ids (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            order: VecDeque::new(),
            max: max.max(1),
        }
    }

    /// Remembers `msg_id` of `sender` in `ids` until `window` from `now`.
    pub(crate) fn remember(&mut self, ids: &RetryIds, sender: &str, msg_id: &str, now: Instant) {
        let key = ids.key(sender, msg_id);
        if self.order.len() >= self.max {
            if let Some((old, _)) = self.order.pop_front() {
                ids.ids.remove(&old);
            }
        }
        ids.ids.insert(key);
        self.order.push_back((key, now));
    }

    /// Forgets in `ids` what was remembered more than `window` before `now`.
    pub(crate) fn forget_older(&mut self, ids: &RetryIds, window: Duration, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > window)
        {
            if let Some((key, _)) = self.order.pop_front() {
                ids.ids.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_are_forgotten_after_the_window_or_to_make_room() {
        let ids = RetryIds::default();
        let mut recent = Recent::new(100);
        let start = Instant::now();
        recent.remember(&ids, "alice", "m1", start);
        recent.remember(&ids, "alice", "m2", start + Duration::from_secs(5));
        assert!(ids.contains(ids.key("alice", "m1")));
        recent.forget_older(
            &ids,
            Duration::from_secs(10),
            start + Duration::from_secs(12),
        );
        assert!(!ids.contains(ids.key("alice", "m1")), "past the window");
        assert!(ids.contains(ids.key("alice", "m2")), "still within it");
        for i in 0..100 {
            recent.remember(&ids, "bob", &i.to_string(), start);
        }
        assert!(
            !ids.contains(ids.key("alice", "m2")),
            "the oldest made room"
        );
        assert_eq!(recent.order.len(), 100);
    }
}
