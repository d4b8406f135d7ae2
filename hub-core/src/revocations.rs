//! Revoked credentials: a token (by its `jti`) or a whole user, until a
//! time. A connect, a token refresh or a subscription token of what is
//! revoked is refused (`unauthorized`) until then, and the sessions holding
//! it are closed with `revoked` (4503). Every node keeps the list (the
//! Redis engine tells every node of a revocation and keeps the list in
//! Redis for nodes that start later); checking it is one relaxed load while
//! it is empty.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};

use crate::outbox::SessionId;

/// What is revoked, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Revocation {
    /// The user, or the token.
    #[serde(flatten)]
    pub what: Revoked,
    /// Until when, in Unix milliseconds.
    pub until_ms: u64,
}

/// A revoked user or token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoked {
    /// Every token of the user (its own address and its devices).
    User(String),
    /// The token whose `jti` claim this is.
    Jti(String),
}

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Revocations {
    /// Revoked until (Unix ms).
    list: Mutex<HashMap<Revoked, u64>>,
    /// Whether `list` may hold anything: the connect path's fast check.
    any: AtomicBool,
    /// Most entries kept (`max_revocations`).
    max: usize,
    /// Sessions here whose token has a `jti`: address → (session, jti), so
    /// a revoked token's sessions can be found.
    holders: DashMap<Arc<str>, (SessionId, Arc<str>)>,
    /// Whether a session ever held a `jti` here: a session's end looks in
    /// `holders` only then (one relaxed load otherwise).
    ever_held: AtomicBool,
}

/// Why a revocation was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListFull(pub(crate) usize);

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Revocations {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            list: Mutex::new(HashMap::new()),
            any: AtomicBool::new(false),
            max,
            holders: DashMap::new(),
            ever_held: AtomicBool::new(false),
        }
    }

    fn list(&self) -> MutexGuard<'_, HashMap<Revoked, u64>> {
        self.list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps `revocation` (a later `until` of the same wins); refused when
    /// the list is full of unexpired entries.
    pub(crate) fn add(&self, revocation: &Revocation) -> Result<(), ListFull> {
        let now = now_ms();
        if revocation.until_ms <= now {
            return Ok(());
        }
        let mut list = self.list();
        if list.len() >= self.max && !list.contains_key(&revocation.what) {
            list.retain(|_, until| *until > now);
            if list.len() >= self.max {
                return Err(ListFull(self.max));
            }
        }
        let until = list.entry(revocation.what.clone()).or_insert(0);
        *until = (*until).max(revocation.until_ms);
        self.any.store(true, Ordering::Release);
        Ok(())
    }

    /// Until when `user` or its token `jti` is revoked, if either is now.
    pub(crate) fn refused(&self, user: &str, jti: Option<&str>) -> Option<u64> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let now = now_ms();
        let mut list = self.list();
        let mut until = None;
        let keys = std::iter::once(Revoked::User(user.to_owned()))
            .chain(jti.map(|j| Revoked::Jti(j.to_owned())));
        for key in keys {
            match list.get(&key) {
                Some(&t) if t > now => until = until.max(Some(t)),
                Some(_) => {
                    list.remove(&key);
                }
                None => {}
            }
        }
        if list.is_empty() {
            self.any.store(false, Ordering::Release);
        }
        until
    }

    /// Until when the session `session`, holding `address` for `user`, is
    /// revoked (by its user, or by the token it holds), if it is now.
    pub(crate) fn refused_session(
        &self,
        user: &str,
        address: &str,
        session: SessionId,
    ) -> Option<u64> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let jti = self
            .holders
            .get(address)
            .filter(|held| held.0 == session)
            .map(|held| held.1.clone());
        self.refused(user, jti.as_deref())
    }

    /// A session here holds `address` with a token whose `jti` this is.
    pub(crate) fn hold(&self, address: Arc<str>, session: SessionId, jti: Arc<str>) {
        self.ever_held.store(true, Ordering::Relaxed);
        self.holders.insert(address, (session, jti));
    }

    /// The session `session` holding `address` ended.
    pub(crate) fn release(&self, address: &str, session: SessionId) {
        if self.ever_held.load(Ordering::Relaxed) {
            self.holders
                .remove_if(address, |_, (held_by, _)| *held_by == session);
        }
    }

    /// The addresses held here with the token `jti`. Walks every session
    /// with a `jti`: for a revocation, not for a hot path.
    pub(crate) fn holders_of(&self, jti: &str) -> Vec<Arc<str>> {
        self.holders
            .iter()
            .filter(|e| &*e.value().1 == jti)
            .map(|e| e.key().clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, until_ms: u64) -> Revocation {
        Revocation {
            what: Revoked::User(name.into()),
            until_ms,
        }
    }

    #[test]
    fn a_revocation_refuses_until_its_time_and_a_full_list_refuses_more() {
        let list = Revocations::new(2);
        assert_eq!(list.refused("alice", Some("t1")), None, "empty");
        let later = now_ms() + 60_000;
        list.add(&user("alice", later)).unwrap();
        list.add(&Revocation {
            what: Revoked::Jti("t9".into()),
            until_ms: later,
        })
        .unwrap();
        assert_eq!(list.refused("alice", None), Some(later));
        assert_eq!(list.refused("bob", Some("t9")), Some(later));
        assert_eq!(list.refused("bob", Some("t1")), None);
        assert_eq!(list.add(&user("carol", later)), Err(ListFull(2)));
        // A past one is no entry at all.
        list.add(&user("dave", 1)).unwrap();
        assert_eq!(list.refused("dave", None), None);
    }
}
