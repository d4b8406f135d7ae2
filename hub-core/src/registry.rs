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
//! The directory also says when an address comes online (a claim of an
//! address no one held) and goes offline (a release without grace, a grace
//! window or a lease that ran out); the registry tells the address's
//! watchers on this node (`hub:watch`), each transition once.
//!
//! It also keeps the list of open sessions that shutdown drains. Everything
//! here is a message handler, processed one at a time; a networked
//! directory's answers to claims and releases are applied in the order
//! they were asked for (`in_order`), so racing connects for one address
//! resolve to exactly one winner.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::fut;
use actix::prelude::*;

use crate::error::HubError;
use crate::lifecycle::{Lifecycle, LifecycleSink};
use crate::metrics::Metrics;
use crate::outbox::{SessionHandle, SessionId};
use crate::presence::watchers::Watchers;
use crate::protocol::presence::WatchAck;
use crate::protocol::{CloseCode, FrameId, ServerFrame};
use crate::route::{Endpoint, Endpoints};
use crate::seams::addresses::{AddressDirectory, Epoch, Expired, Holder, Lease, Released};
use crate::seams::{Answer, NodeId};

mod in_order;
mod transitions;
mod watching;
#[cfg(test)]
use watching::drain_wave;
pub(crate) use watching::{ConnectionsOf, Drain, IsOnline, Unwatch, Watch};
#[cfg(feature = "redis")]
pub(crate) use watching::{Evicted, ResyncWatches, Transition};

/// Mailbox capacity: the registry is on every connect and disconnect.
const MAILBOX_CAPACITY: usize = 65_536;

/// Register `address` for `endpoint`, evicting any older session holding it.
/// Replies with the holding's epoch.
#[derive(Message)]
#[rtype(result = "Result<Epoch, HubError>")]
pub(crate) struct Register {
    pub(crate) address: Arc<str>,
    pub(crate) endpoint: Endpoint,
    /// A session's id (as its client sees it): kept by a shared directory
    /// with the holding, so that a node that finds it run out on a dead
    /// node can tell the lifecycle which session ended.
    pub(crate) client: Option<Arc<str>>,
}

/// End the holding `epoch` of `address` (a session's; ignored if stale).
/// `dropped`: the session ended without saying goodbye, so the address
/// stays online for `offline_grace_ms`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Unregister {
    pub(crate) address: Arc<str>,
    pub(crate) epoch: Epoch,
    pub(crate) dropped: bool,
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

/// The registry actor. See the module docs.
pub(crate) struct Registry {
    node: NodeId,
    /// Who holds each address, and the eviction decision.
    directory: Box<dyn AddressDirectory>,
    /// Read-mostly map for the router; only this actor writes it.
    endpoints: Endpoints,
    /// Every open session, for shutdown.
    sessions: HashMap<SessionId, SessionHandle>,
    /// Who hears each address come online and go offline.
    watchers: Watchers,
    /// How long an address whose session dropped stays online.
    grace: Duration,
    /// A session's lease lasts this long unless renewed.
    ttl: Duration,
    /// Period of the lease alarm.
    sweep_interval: Duration,
    /// A sweep is on its way to a networked directory.
    expiring: bool,
    /// A re-marking of the watched addresses is on its way (see
    /// `remark_watches`).
    remarking: bool,
    /// Claims and releases awaited, applied in the order asked.
    order: in_order::InOrder,
    metrics: Arc<Metrics>,
    /// Hears users come online and go offline (webhooks).
    lifecycle: Option<Arc<dyn LifecycleSink>>,
}

impl Registry {
    pub(crate) fn new(
        node: NodeId,
        directory: Box<dyn AddressDirectory>,
        endpoints: Endpoints,
        ttl: Duration,
        sweep_interval: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            node,
            directory,
            endpoints,
            sessions: HashMap::new(),
            watchers: Watchers::default(),
            grace: Duration::ZERO,
            ttl,
            sweep_interval,
            expiring: false,
            remarking: false,
            order: in_order::InOrder::default(),
            metrics,
            lifecycle: None,
        }
    }

    /// Tells `lifecycle` when a user comes online and goes offline (with
    /// a directory that does not announce transitions: one node's).
    pub(crate) fn with_lifecycle(mut self, lifecycle: Option<Arc<dyn LifecycleSink>>) -> Self {
        self.lifecycle = lifecycle;
        self
    }

    /// Addresses whose session dropped stay online for `grace`.
    pub(crate) fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Awaits at most `max` directory answers at once (a networked
    /// directory's; see `in_order`).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn with_claims_in_flight(mut self, max: u64) -> Self {
        self.order.max_in_flight = max.max(1);
        self
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
        self.transitioned(&address, (grant.came_online, grant.user_came_online), true);
        let new_session = match &endpoint {
            Endpoint::Session(h) => Some(h.id),
            Endpoint::Local(_) => None,
        };
        // Another node's claim took the address while this one's answer
        // was on its way: the session goes at once, holding nothing.
        if let (Some(id), Endpoint::Session(handle)) = (new_session, &endpoint) {
            if self.order.was_evicted(id) {
                handle.close(CloseCode::DuplicateConnection);
                return Ok(grant.epoch);
            }
        }
        // A session this node still had under the address lost it to a
        // claim on another node, whose eviction notice is still on its
        // way: it goes now, so it can never be left holding nothing.
        if let Some(Endpoint::Session(old)) = self.endpoints.insert(address, endpoint) {
            if Some(old.id) != new_session {
                old.close(CloseCode::DuplicateConnection);
            }
        }
        self.count();
        Ok(grant.epoch)
    }

    /// Removes `lease`'s endpoint from this node and closes its session,
    /// if this node still has that holder under that address.
    /// Whether it did.
    fn close_holder(&mut self, lease: &Lease, code: CloseCode) -> bool {
        let Holder::Session { node, session } = lease.holder else {
            return false;
        };
        if node != self.node {
            return false;
        }
        let removed = self.endpoints.remove_if(
            &lease.address,
            |_, endpoint| matches!(endpoint, Endpoint::Session(h) if h.id == session),
        );
        let closed = match removed {
            Some((_, Endpoint::Session(handle))) => {
                handle.close(code);
                true
            }
            _ => false,
        };
        self.count();
        closed
    }

    fn released(&mut self, address: &Arc<str>, released: Released) {
        if released.ended {
            self.endpoints.remove(address);
            self.count();
        }
        let transitions = (released.went_offline, released.user_went_offline);
        self.transitioned(address, transitions, false);
    }

    /// Closes the sessions whose leases ran out and tells the watchers of
    /// every address that went offline; costs O(expired), not O(sessions).
    fn expired(&mut self, expired: Vec<Expired>) {
        for Expired {
            lease,
            live,
            went_offline,
            user_went_offline,
            lost_client,
        } in expired
        {
            if live {
                Metrics::inc(&self.metrics.registrations_expired_total);
                tracing::debug!(address = %lease.address, "registration expired");
                self.close_holder(&lease, CloseCode::RegistrationExpired);
            }
            if let (Some(sink), Some(client)) = (&self.lifecycle, lost_client) {
                sink.tell(Lifecycle::Disconnected {
                    client,
                    address: lease.address.clone(),
                    reason: "node_lost",
                });
            }
            self.transitioned(&lease.address, (went_offline, user_went_offline), false);
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
        let released = self
            .directory
            .release(address, epoch, self.grace)
            .into_now();
        self.released(address, released.unwrap_or_default());
    }

    fn count(&self) {
        Metrics::set(&self.metrics.registered, self.endpoints.len() as u64);
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
        if self.directory.announces_transitions() {
            // A shared directory announces watched addresses only, each
            // watch marked for `ttl`: mark them again well within it.
            ctx.run_interval(self.ttl / 3, |act, ctx| act.remark_watches(ctx));
        }
        ctx.run_interval(self.sweep_interval, |act, ctx| {
            if act.expiring {
                // The last sweep has not come back (a stalled Redis): one
                // at a time, so sweeps cannot pile up behind it.
                return;
            }
            let answer = act.directory.expire(Instant::now());
            match answer.into_now() {
                Ok(leases) => act.expired(leases),
                Err(later) => {
                    // Not waited for: the registry goes on with its mailbox
                    // while Redis answers (a networked directory announces
                    // transitions itself, and closing a holder checks it is
                    // still the one whose lease ran out).
                    act.expiring = true;
                    ctx.spawn(later.into_actor(act).map(|leases, act, _| {
                        act.expiring = false;
                        act.expired(leases);
                    }));
                }
            }
        });
    }
}

impl Handler<Register> for Registry {
    type Result = ResponseFuture<Result<Epoch, HubError>>;

    fn handle(&mut self, msg: Register, ctx: &mut Self::Context) -> Self::Result {
        let holder = self.holder(&msg.endpoint);
        let answer = self
            .directory
            .claim_for(&msg.address, holder, self.ttl, msg.client.as_ref());
        let stopped = Err(HubError::Internal("registry stopped"));
        self.in_order(answer, ctx, stopped, move |act, granted| {
            act.registered(msg.address, msg.endpoint, granted)
        })
    }
}

impl Handler<Unregister> for Registry {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Unregister, ctx: &mut Self::Context) -> Self::Result {
        let grace = if msg.dropped {
            self.grace
        } else {
            Duration::ZERO
        };
        let answer = self.directory.release(&msg.address, msg.epoch, grace);
        self.in_order(answer, ctx, (), move |act, released| {
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
                let answer = act
                    .directory
                    .release(&msg.address, lease.epoch, Duration::ZERO);
                let released = answer.into_now().unwrap_or_default();
                act.released(&msg.address, released);
            }
        })
    }
}

impl Handler<Touch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Touch, ctx: &mut Self::Context) {
        let lease = [Lease {
            address: msg.address.clone(),
            holder: Holder::Session {
                node: self.node,
                session: msg.session,
            },
            epoch: msg.epoch,
        }];
        let answer = self.directory.renew(&lease, self.ttl);
        let lost = move |act: &mut Self, lost: Vec<Arc<str>>| {
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
        };
        // A renewal over the network does not hold up the registry's other
        // messages: its answer can only close this very session (by id), so
        // whatever the registry did meanwhile, it stays right.
        match answer.into_now() {
            Ok(answer) => lost(self, answer),
            Err(later) => {
                ctx.spawn(
                    later
                        .into_actor(self)
                        .map(move |answer, act, _| lost(act, answer)),
                );
            }
        }
    }
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
