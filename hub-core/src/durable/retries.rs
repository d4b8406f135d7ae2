//! [`RetryIds`]: which (sender, `msg_id`) pairs the inbox actor remembers,
//! readable by every session without asking the actor. A session lets a
//! retry of a remembered send past its rate limit — once per id and
//! session, so replaying one id cannot be used to flood — and the actor
//! answers it from its memory without storing anything.
//!
//! Keys are hashes with this process's random keys: a false positive (two
//! pairs, one hash) would only spare one frame the rate limit.

use std::hash::{BuildHasher, RandomState};

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
