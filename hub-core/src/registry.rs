//! The registry actor: address → live endpoint (a WebSocket session or a local
//! actor), the only writer of the presence map that senders read on the hot
//! path.
//!
//! It owns eviction (a newer registration of a live address closes the older
//! session with `duplicate_connection`), registration TTLs (a deadline index
//! swept by an interval alarm: each tick pops only what has expired), the cap on
//! registered addresses, and the list of open sessions that shutdown drains.
//! Everything here is a message handler, processed one at a time, so racing
//! connects for one address resolve to exactly one winner.
//!
//! This is the in-memory presence store; a shared one (e.g. Redis) would sit
//! behind the same messages.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::error::HubError;
use crate::metrics::Metrics;
use crate::outbox::{SessionHandle, SessionId};
use crate::protocol::CloseCode;
use crate::route::{Endpoint, Presence};

/// Mailbox capacity: the registry is on every connect and disconnect.
const MAILBOX_CAPACITY: usize = 65_536;

/// Register `address` for `endpoint`, evicting any older session holding it.
#[derive(Message)]
#[rtype(result = "Result<(), HubError>")]
pub(crate) struct Register {
    pub(crate) address: Arc<str>,
    pub(crate) endpoint: Endpoint,
}

/// Drop `address` if (and only if) `owner` still holds it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub(crate) address: Arc<str>,
    pub(crate) owner: Owner,
}

/// Refresh the TTL of `address` held by `session`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Touch {
    pub(crate) address: Arc<str>,
    pub(crate) session: SessionId,
}

/// A session opened (connected or not): remember it for shutdown.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct TrackSession {
    pub(crate) handle: SessionHandle,
}

/// A session stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ForgetSession {
    pub(crate) id: SessionId,
}

/// Tell every open session the server is shutting down. Returns how many were told.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Drain;

/// Who holds an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Session(SessionId),
    Local,
}

struct Entry {
    owner: Owner,
    /// When the registration expires; `None` for local actors, which live until unregistered.
    deadline: Option<Instant>,
}

/// The registry actor. See the module docs.
pub(crate) struct Registry {
    /// Who holds each address; mirrors `presence` (which holds the endpoints).
    entries: HashMap<Arc<str>, Entry>,
    /// Read-mostly map for senders; only this actor writes it.
    presence: Presence,
    /// Registration deadlines in order, so the alarm pops only expired ones.
    deadlines: BTreeSet<(Instant, Arc<str>)>,
    /// Every open session, for shutdown.
    sessions: HashMap<SessionId, SessionHandle>,
    /// Cap on `entries` (`max_registered`).
    max_registered: usize,
    ttl: Duration,
    sweep_interval: Duration,
    metrics: Arc<Metrics>,
}

impl Registry {
    pub(crate) fn new(
        presence: Presence,
        max_registered: usize,
        ttl: Duration,
        sweep_interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            entries: HashMap::new(),
            presence,
            deadlines: BTreeSet::new(),
            sessions: HashMap::new(),
            max_registered,
            ttl,
            sweep_interval,
            metrics,
        }
    }

    fn owner_of(endpoint: &Endpoint) -> Owner {
        match endpoint {
            Endpoint::Session(h) => Owner::Session(h.id),
            Endpoint::Local(_) => Owner::Local,
        }
    }

    fn remove(&mut self, address: &Arc<str>) -> Option<Endpoint> {
        let entry = self.entries.remove(address)?;
        if let Some(deadline) = entry.deadline {
            self.deadlines.remove(&(deadline, address.clone()));
        }
        let endpoint = self.presence.remove(address).map(|(_, e)| e);
        Metrics::set(&self.metrics.registered, self.entries.len() as u64);
        endpoint
    }

    pub(crate) fn register(
        &mut self,
        address: Arc<str>,
        endpoint: Endpoint,
    ) -> Result<(), HubError> {
        let owner = Self::owner_of(&endpoint);
        match self.entries.get(&address).map(|e| e.owner) {
            Some(Owner::Local) if owner != Owner::Local => {
                return Err(HubError::AddressReserved(address.to_string()));
            }
            Some(old) if old == owner => return Ok(()),
            Some(_) => {
                if let Some(Endpoint::Session(old)) = self.remove(&address) {
                    Metrics::inc(&self.metrics.evictions_total);
                    old.close(CloseCode::DuplicateConnection);
                }
            }
            None if self.entries.len() >= self.max_registered => {
                return Err(HubError::RegistryFull(self.max_registered));
            }
            None => {}
        }
        let deadline = match owner {
            Owner::Session(_) => {
                let d = Instant::now() + self.ttl;
                self.deadlines.insert((d, address.clone()));
                Some(d)
            }
            Owner::Local => None,
        };
        self.entries
            .insert(address.clone(), Entry { owner, deadline });
        self.presence.insert(address, endpoint);
        Metrics::set(&self.metrics.registered, self.entries.len() as u64);
        Ok(())
    }

    /// Drops `address` if `owner` still holds it.
    pub(crate) fn unregister(&mut self, address: &Arc<str>, owner: Owner) {
        if self.entries.get(address).map(|e| e.owner) == Some(owner) {
            self.remove(address);
        }
    }

    /// Pops every expired registration; cost is O(expired · log n), not O(n).
    fn sweep(&mut self, now: Instant) {
        while let Some((deadline, address)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            if let Some(Endpoint::Session(handle)) = self.remove(&address) {
                Metrics::inc(&self.metrics.registrations_expired_total);
                tracing::debug!(address = %address, session = handle.id.0, "registration expired");
                handle.close(CloseCode::RegistrationExpired);
            }
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.sweep_interval, |act, _| act.sweep(Instant::now()));
    }
}

impl Handler<Register> for Registry {
    type Result = Result<(), HubError>;

    fn handle(&mut self, msg: Register, _: &mut Self::Context) -> Self::Result {
        self.register(msg.address, msg.endpoint)
    }
}

impl Handler<Unregister> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Unregister, _: &mut Self::Context) {
        self.unregister(&msg.address, msg.owner);
    }
}

impl Handler<Touch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Touch, _: &mut Self::Context) {
        let Some(entry) = self.entries.get_mut(&msg.address) else {
            return;
        };
        if entry.owner != Owner::Session(msg.session) {
            return;
        }
        if let Some(old) = entry.deadline {
            self.deadlines.remove(&(old, msg.address.clone()));
        }
        let new = Instant::now() + self.ttl;
        entry.deadline = Some(new);
        self.deadlines.insert((new, msg.address));
    }
}

impl Handler<TrackSession> for Registry {
    type Result = ();

    fn handle(&mut self, msg: TrackSession, _: &mut Self::Context) {
        self.sessions.insert(msg.handle.id, msg.handle);
    }
}

impl Handler<ForgetSession> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ForgetSession, _: &mut Self::Context) {
        self.sessions.remove(&msg.id);
    }
}

impl Handler<Drain> for Registry {
    type Result = usize;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> usize {
        // A one-off O(sessions) walk: shutdown has to reach everyone.
        for handle in self.sessions.values() {
            handle.close(CloseCode::ServerShutdown);
        }
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::handle;
    use dashmap::DashMap;
    use std::sync::atomic::Ordering::Relaxed;

    fn registry(max: usize, ttl: Duration) -> (Registry, Presence, Arc<Metrics>) {
        let presence: Presence = Arc::new(DashMap::new());
        let metrics = Arc::new(Metrics::default());
        let r = Registry::new(
            presence.clone(),
            max,
            ttl,
            Duration::from_secs(1),
            metrics.clone(),
        );
        (r, presence, metrics)
    }

    fn holder(presence: &Presence, address: &str) -> Option<SessionId> {
        match presence.get(address).as_deref() {
            Some(Endpoint::Session(h)) => Some(h.id),
            _ => None,
        }
    }

    #[test]
    fn a_newer_registration_evicts_the_older_session() {
        let (mut r, presence, metrics) = registry(10, Duration::from_secs(60));
        let (first, _q1) = handle(1, 4);
        let (second, _q2) = handle(2, 4);
        r.register("a".into(), Endpoint::Session(first)).unwrap();
        r.register("a".into(), Endpoint::Session(second)).unwrap();
        assert_eq!(holder(&presence, "a"), Some(SessionId(2)));
        assert_eq!(metrics.evictions_total.load(Relaxed), 1);
        assert_eq!(r.deadlines.len(), 1, "the evicted deadline is gone too");
    }

    #[test]
    fn unregister_only_removes_the_current_owner() {
        let (mut r, presence, _) = registry(10, Duration::from_secs(60));
        let (first, _q1) = handle(1, 4);
        let (second, _q2) = handle(2, 4);
        r.register("a".into(), Endpoint::Session(first)).unwrap();
        r.register("a".into(), Endpoint::Session(second)).unwrap();
        r.unregister(&"a".into(), Owner::Session(SessionId(1)));
        assert_eq!(
            holder(&presence, "a"),
            Some(SessionId(2)),
            "a stale unregister is ignored"
        );
        r.unregister(&"a".into(), Owner::Session(SessionId(2)));
        assert_eq!(holder(&presence, "a"), None);
        assert!(r.deadlines.is_empty());
    }

    #[test]
    fn the_cap_refuses_new_addresses_but_not_replacements() {
        let (mut r, _, _) = registry(2, Duration::from_secs(60));
        for (i, address) in ["a", "b"].into_iter().enumerate() {
            r.register(address.into(), Endpoint::Session(handle(i as u64, 4).0))
                .unwrap();
        }
        let err = r
            .register("c".into(), Endpoint::Session(handle(9, 4).0))
            .unwrap_err();
        assert_eq!(err, HubError::RegistryFull(2));
        r.register("b".into(), Endpoint::Session(handle(10, 4).0))
            .unwrap();
    }

    #[test]
    fn the_alarm_pops_expired_registrations_only() {
        let (mut long, long_presence, _) = registry(10, Duration::from_secs(3600));
        long.register("a".into(), Endpoint::Session(handle(1, 4).0))
            .unwrap();
        long.sweep(Instant::now());
        assert_eq!(holder(&long_presence, "a"), Some(SessionId(1)));

        let (mut short, short_presence, metrics) = registry(10, Duration::ZERO);
        short
            .register("a".into(), Endpoint::Session(handle(1, 4).0))
            .unwrap();
        short
            .register("b".into(), Endpoint::Session(handle(2, 4).0))
            .unwrap();
        short.sweep(Instant::now() + Duration::from_millis(1));
        assert_eq!(holder(&short_presence, "a"), None);
        assert_eq!(holder(&short_presence, "b"), None);
        assert_eq!(metrics.registrations_expired_total.load(Relaxed), 2);
        assert!(short.entries.is_empty() && short.deadlines.is_empty());
    }
}
