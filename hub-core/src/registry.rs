//! The registry actor: address → live endpoint (a WebSocket session or a local
//! actor) on this node, the only writer of the endpoint map that the router
//! reads on the hot path.
//!
//! Who holds an address, and whether a claim evicts someone, is the
//! [`AddressDirectory`]'s decision (one node's directory is in memory; a
//! shared one would sit behind the same trait). The registry asks it, and
//! carries the decision out on this node: it writes the endpoint map, closes
//! an evicted or expired session, and runs the lease alarm (each tick the
//! directory pops only what has expired). Every holding carries a fencing
//! epoch; a session releases and renews its address by its epoch, so a
//! session that lost its address cannot touch the new holder's.
//!
//! It also keeps the list of open sessions that shutdown drains. Everything
//! here is a message handler, processed one at a time (a directory answering
//! over the network is waited for before the next message), so racing
//! connects for one address resolve to exactly one winner.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::fut;
use actix::prelude::*;

use crate::error::HubError;
use crate::metrics::Metrics;
use crate::outbox::{SessionHandle, SessionId};
use crate::protocol::CloseCode;
use crate::route::{Endpoint, Presence};
use crate::seams::addresses::{AddressDirectory, Epoch, Holder, Lease};
use crate::seams::{Answer, NodeId};

/// Mailbox capacity: the registry is on every connect and disconnect.
const MAILBOX_CAPACITY: usize = 65_536;

/// Register `address` for `endpoint`, evicting any older session holding it.
/// Replies with the holding's epoch.
#[derive(Message)]
#[rtype(result = "Result<Epoch, HubError>")]
pub(crate) struct Register {
    pub(crate) address: Arc<str>,
    pub(crate) endpoint: Endpoint,
}

/// End the holding `epoch` of `address` (a session's; ignored if stale).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub(crate) address: Arc<str>,
    pub(crate) epoch: Epoch,
}

/// End this node's in-process actor's holding of `address`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct UnregisterLocal {
    pub(crate) address: Arc<str>,
}

/// Renew the lease `epoch` of `address`, held by `session`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Touch {
    pub(crate) address: Arc<str>,
    pub(crate) epoch: Epoch,
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

/// The registry actor. See the module docs.
pub(crate) struct Registry {
    node: NodeId,
    /// Who holds each address, and the eviction decision.
    directory: Box<dyn AddressDirectory>,
    /// Read-mostly map for the router; only this actor writes it.
    presence: Presence,
    /// Every open session, for shutdown.
    sessions: HashMap<SessionId, SessionHandle>,
    /// A session's lease lasts this long unless renewed.
    ttl: Duration,
    /// Period of the lease alarm.
    sweep_interval: Duration,
    metrics: Arc<Metrics>,
}

impl Registry {
    pub(crate) fn new(
        node: NodeId,
        directory: Box<dyn AddressDirectory>,
        presence: Presence,
        ttl: Duration,
        sweep_interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            node,
            directory,
            presence,
            sessions: HashMap::new(),
            ttl,
            sweep_interval,
            metrics,
        }
    }

    fn holder(&self, endpoint: &Endpoint) -> Holder {
        match endpoint {
            Endpoint::Session(h) => Holder::Session {
                node: self.node,
                session: h.id,
            },
            Endpoint::Local(_) => Holder::Local { node: self.node },
        }
    }

    /// Carries out the directory's decision on a claim.
    pub(crate) fn registered(
        &mut self,
        address: Arc<str>,
        endpoint: Endpoint,
        granted: Result<crate::seams::addresses::Grant, HubError>,
    ) -> Result<Epoch, HubError> {
        let grant = granted?;
        if let Some(evicted) = grant.evicted {
            Metrics::inc(&self.metrics.evictions_total);
            self.close_holder(&evicted, CloseCode::DuplicateConnection);
        }
        self.presence.insert(address, endpoint);
        self.count();
        Ok(grant.epoch)
    }

    /// Removes `lease`'s endpoint from this node and closes its session,
    /// if this node still has that holder under that address.
    fn close_holder(&mut self, lease: &Lease, code: CloseCode) {
        let Holder::Session { node, session } = lease.holder else {
            return;
        };
        if node != self.node {
            return;
        }
        let removed = self.presence.remove_if(
            &lease.address,
            |_, endpoint| matches!(endpoint, Endpoint::Session(h) if h.id == session),
        );
        if let Some((_, Endpoint::Session(handle))) = removed {
            handle.close(code);
        }
        self.count();
    }

    fn released(&mut self, address: &Arc<str>, released: bool) {
        if released {
            self.presence.remove(address);
            self.count();
        }
    }

    /// Closes the sessions whose leases ran out; costs O(expired), not O(sessions).
    fn expired(&mut self, leases: Vec<Lease>) {
        for lease in leases {
            Metrics::inc(&self.metrics.registrations_expired_total);
            tracing::debug!(address = %lease.address, "registration expired");
            self.close_holder(&lease, CloseCode::RegistrationExpired);
        }
    }

    /// A `Register` handled at once, for tests and benches (whose directory
    /// is the in-memory one, which answers at once).
    #[cfg(any(test, feature = "bench-support"))]
    pub(crate) fn register_now(
        &mut self,
        address: Arc<str>,
        endpoint: Endpoint,
    ) -> Result<Epoch, HubError> {
        let holder = self.holder(&endpoint);
        match self.directory.claim(&address, holder, self.ttl).into_now() {
            Ok(granted) => self.registered(address, endpoint, granted),
            Err(_) => Err(HubError::Internal("the directory did not answer at once")),
        }
    }

    /// An `Unregister` handled at once, as [`Registry::register_now`].
    #[cfg(any(test, feature = "bench-support"))]
    pub(crate) fn unregister_now(&mut self, address: &Arc<str>, epoch: Epoch) {
        let released = self.directory.release(address, epoch).into_now();
        self.released(address, released.unwrap_or(false));
    }

    fn count(&self) {
        Metrics::set(&self.metrics.registered, self.presence.len() as u64);
    }

    /// Runs `apply` on the directory's answer: at once when it answered at
    /// once, else once it has, before the registry handles another message.
    fn on_answer<T, R>(
        &mut self,
        answer: Answer<T>,
        apply: impl FnOnce(&mut Self, T) -> R + 'static,
    ) -> AtomicResponse<Self, R>
    where
        T: Unpin + Send + 'static,
        R: 'static,
    {
        match answer.into_now() {
            Ok(value) => {
                let result = apply(self, value);
                AtomicResponse::new(Box::pin(fut::ready(result)))
            }
            Err(later) => AtomicResponse::new(Box::pin(
                later
                    .into_actor(self)
                    .map(move |value, act, _| apply(act, value)),
            )),
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        ctx.run_interval(self.sweep_interval, |act, ctx| {
            let answer = act.directory.expire(Instant::now());
            match answer.into_now() {
                Ok(leases) => act.expired(leases),
                Err(later) => {
                    ctx.wait(
                        later
                            .into_actor(act)
                            .map(|leases, act, _| act.expired(leases)),
                    );
                }
            }
        });
    }
}

impl Handler<Register> for Registry {
    type Result = AtomicResponse<Self, Result<Epoch, HubError>>;

    fn handle(&mut self, msg: Register, _: &mut Self::Context) -> Self::Result {
        let holder = self.holder(&msg.endpoint);
        let answer = self.directory.claim(&msg.address, holder, self.ttl);
        self.on_answer(answer, move |act, granted| {
            act.registered(msg.address, msg.endpoint, granted)
        })
    }
}

impl Handler<Unregister> for Registry {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Unregister, _: &mut Self::Context) -> Self::Result {
        let answer = self.directory.release(&msg.address, msg.epoch);
        self.on_answer(answer, move |act, released| {
            act.released(&msg.address, released)
        })
    }
}

impl Handler<UnregisterLocal> for Registry {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: UnregisterLocal, _: &mut Self::Context) -> Self::Result {
        let local = Holder::Local { node: self.node };
        let answer = self.directory.locate(&msg.address);
        // Located and released within one registry turn: no claim can come between.
        self.on_answer(answer, move |act, lease| {
            if let Some(lease) = lease.filter(|l| l.holder == local) {
                let answer = act.directory.release(&msg.address, lease.epoch);
                let released = answer.into_now().unwrap_or(false);
                act.released(&msg.address, released);
            }
        })
    }
}

impl Handler<Touch> for Registry {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, msg: Touch, _: &mut Self::Context) -> Self::Result {
        let lease = [(msg.address.clone(), msg.epoch)];
        let answer = self.directory.renew(&lease, self.ttl);
        self.on_answer(answer, move |act, lost| {
            // The session holds an address it lost (another connection took
            // it, on this node or another): it must stop acting on it.
            if !lost.is_empty() {
                let lease = Lease {
                    address: msg.address,
                    holder: Holder::Session {
                        node: act.node,
                        session: msg.session,
                    },
                    epoch: msg.epoch,
                };
                act.close_holder(&lease, CloseCode::DuplicateConnection);
            }
        })
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
    use crate::seams::addresses::MemoryAddressDirectory;
    use dashmap::DashMap;
    use std::sync::atomic::Ordering::Relaxed;

    fn registry(max: usize, ttl: Duration) -> (Registry, Presence, Arc<Metrics>) {
        let presence: Presence = Arc::new(DashMap::new());
        let metrics = Arc::new(Metrics::default());
        let r = Registry::new(
            NodeId(1),
            Box::new(MemoryAddressDirectory::new(max)),
            presence.clone(),
            ttl,
            Duration::from_secs(1),
            metrics.clone(),
        );
        (r, presence, metrics)
    }

    fn register(r: &mut Registry, address: &str, id: u64) -> Result<Epoch, HubError> {
        let (h, _queue) = handle(id, 4);
        r.register_now(address.into(), Endpoint::Session(h))
    }

    fn holder(presence: &Presence, address: &str) -> Option<SessionId> {
        match presence.get(address).as_deref() {
            Some(Endpoint::Session(h)) => Some(h.id),
            _ => None,
        }
    }

    #[test]
    fn a_newer_registration_replaces_the_older_session_here() {
        let (mut r, presence, metrics) = registry(10, Duration::from_secs(60));
        register(&mut r, "a", 1).unwrap();
        register(&mut r, "a", 2).unwrap();
        assert_eq!(holder(&presence, "a"), Some(SessionId(2)));
        assert_eq!(metrics.evictions_total.load(Relaxed), 1);
        assert_eq!(metrics.registered.load(Relaxed), 1);
    }

    #[test]
    fn a_stale_release_leaves_the_new_holder_in_place() {
        let (mut r, presence, _) = registry(10, Duration::from_secs(60));
        let old = register(&mut r, "a", 1).unwrap();
        let new = register(&mut r, "a", 2).unwrap();
        r.unregister_now(&"a".into(), old);
        assert_eq!(
            holder(&presence, "a"),
            Some(SessionId(2)),
            "a stale release is ignored"
        );
        r.unregister_now(&"a".into(), new);
        assert_eq!(holder(&presence, "a"), None);
    }

    #[test]
    fn expired_leases_leave_the_endpoint_map() {
        let (mut r, presence, metrics) = registry(10, Duration::ZERO);
        register(&mut r, "a", 1).unwrap();
        register(&mut r, "b", 2).unwrap();
        let leases = r
            .directory
            .expire(Instant::now() + Duration::from_millis(1))
            .into_now()
            .unwrap();
        r.expired(leases);
        assert_eq!(
            (holder(&presence, "a"), holder(&presence, "b")),
            (None, None)
        );
        assert_eq!(metrics.registrations_expired_total.load(Relaxed), 2);
        assert_eq!(metrics.registered.load(Relaxed), 0);
    }
}
