//! [`AddressDirectory`]: who holds each address, and the eviction decision.
//!
//! A holding is a lease: an address, its holder (a session or an in-process
//! actor on some node) and a fencing epoch, a number that grows with every
//! grant. Whoever acts on a holding (releases it, renews it) names its
//! epoch, so a holder that has lost the address — evicted by a newer
//! connection, or expired — cannot undo or extend the new holder's lease.
//!
//! The directory also decides an address's presence, so that it is decided
//! once however many nodes there are: a claim of an address no one held
//! brings it **online**; a holder that drops without saying goodbye leaves
//! the address *lingering* for a grace window, during which a new claim
//! takes it over unnoticed; when the window (or a holder's lease) runs out
//! the address goes **offline**. Each transition is reported exactly once,
//! to the caller whose call made it (a claim, a release, an expiry).
//!
//! [`MemoryAddressDirectory`] is the directory of a single node: a map and a
//! deadline index, owned by the registry actor. The Redis engine's
//! (`redis::directory`) keeps a hash per holding beside a sorted set of
//! deadlines by Redis time, grants, fences, renews and expires in Lua
//! scripts (each atomic in Redis), and so decides each transition once for
//! every node.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Answer, NodeId};
use crate::error::HubError;
use crate::outbox::SessionId;
use crate::protocol::user_of;

/// The fencing epoch of one holding; later grants have larger epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Epoch(pub(crate) u64);

/// A user's live session connections, each with the node holding it.
pub(crate) type Connections = Vec<(Arc<str>, NodeId)>;

/// Who holds (or claims) an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Holder {
    /// A client's session on a node; its lease expires unless renewed.
    Session { node: NodeId, session: SessionId },
    /// An in-process actor an application registered on a node; it holds
    /// the address until released, and sessions cannot take it.
    Local { node: NodeId },
}

/// One holding of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) address: Arc<str>,
    pub(crate) holder: Holder,
    pub(crate) epoch: Epoch,
}

/// A granted claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The epoch of the new holding.
    pub(crate) epoch: Epoch,
    /// The holding this claim ended, if another holder had the address; its
    /// node must close that holder.
    pub(crate) evicted: Option<Lease>,
    /// Whether the address was offline: neither held nor lingering (for
    /// a user's own address: none of its connections was).
    pub(crate) came_online: bool,
    /// For a device's address (`alice/phone`): whether its user came
    /// online with it (none of the user's connections was online).
    pub(crate) user_came_online: bool,
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Released {
    /// The holding was current and has ended.
    pub(crate) ended: bool,
    /// The address went offline with it (no grace window; for a user's
    /// own address: its last connection).
    pub(crate) went_offline: bool,
    /// For a device's address: its user went offline with it.
    pub(crate) user_went_offline: bool,
}

/// A holding whose time ran out; its address is offline now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expired {
    pub(crate) lease: Lease,
    /// The holder was still live (its lease ran out): its node must close
    /// it. Otherwise it had dropped and its grace window ended.
    pub(crate) live: bool,
    /// The address went offline (for a user's own address: its last
    /// connection was this one).
    pub(crate) went_offline: bool,
    /// For a device's address: its user went offline with it.
    pub(crate) user_went_offline: bool,
    /// The session's id, when its lease ran out on another node that is
    /// gone (found by a shared directory): that session ended unseen, and
    /// this node tells the lifecycle so.
    pub(crate) lost_client: Option<Arc<str>>,
}

/// Who holds each address. See the module docs.
pub(crate) trait AddressDirectory: std::fmt::Debug + Send + 'static {
    /// Claims `address` for `holder`. The last claim wins: a session
    /// holding the address is evicted (returned in the grant). Claiming an
    /// address one already holds renews it and keeps its epoch (idempotent).
    /// A session's lease lasts `ttl` unless renewed; a local holder's does
    /// not expire.
    ///
    /// # Errors
    /// `AddressReserved` when a session claims an address an in-process
    /// actor holds; `RegistryFull` when `max_registered` addresses are held.
    fn claim(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
    ) -> Answer<Result<Grant, HubError>>;

    /// As [`AddressDirectory::claim`], for the session `client` (its id
    /// as its client sees it), which a shared directory keeps with the
    /// holding (see [`Expired::lost_client`]).
    fn claim_for(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
        client: Option<&Arc<str>>,
    ) -> Answer<Result<Grant, HubError>> {
        let _ = client;
        self.claim(address, holder, ttl)
    }

    /// Ends the holding `epoch` of `address`; a stale epoch (the address
    /// was claimed again since) changes nothing. With a `grace` the address
    /// lingers that long (online, held by no one) before it goes offline; a
    /// local holder never lingers.
    fn release(&mut self, address: &Arc<str>, epoch: Epoch, grace: Duration) -> Answer<Released>;

    /// Renews the leases of many addresses at once for another `ttl`.
    /// Returns the addresses not held at the given epoch any more: their
    /// holders have lost them and must stop acting on them. (A shared
    /// directory that lost its state — Redis restarted empty — holds them
    /// again for their holders rather than call them lost: no one else
    /// took them.)
    fn renew(&mut self, leases: &[Lease], ttl: Duration) -> Answer<Vec<Arc<str>>>;

    /// Removes and returns every session lease and grace window that ran
    /// out by `now`: each address is offline from here on.
    fn expire(&mut self, now: Instant) -> Answer<Vec<Expired>>;

    /// The current holding of `address` (none while it lingers).
    fn locate(&self, address: &str) -> Answer<Option<Lease>>;

    /// Whether `address` is online: held, or lingering in its grace window.
    /// An error when a networked directory could not be asked: no one is
    /// told "offline" for a state that was not read.
    fn online(&self, address: &str) -> Answer<Result<bool, HubError>>;

    /// Marks `addresses` watched for `ttl` and answers whether each is
    /// online, all together. A directory that announces transitions
    /// announces only those of addresses watched (marked within their
    /// `ttl`), and a transition decided after the mark is announced; the
    /// registry marks its watched addresses again within every `ttl`. An
    /// error when a networked directory could not be asked: no one is told
    /// a state that was not read.
    fn watch(&self, addresses: &[Arc<str>], ttl: Duration) -> Answer<Result<Vec<bool>, HubError>> {
        let _ = ttl;
        let mut online = Vec::with_capacity(addresses.len());
        for address in addresses {
            match self.online(address).into_now() {
                Ok(Ok(is)) => online.push(is),
                Ok(Err(error)) => return Answer::now(Err(error)),
                Err(_) => {
                    return Answer::now(Err(HubError::Internal("an online check came later")))
                }
            }
        }
        Answer::now(Ok(online))
    }

    /// The live session connections of `user` in the hub — its own
    /// address, if a session holds it, and each of its devices — with
    /// each one's node. An error when a networked directory could not be
    /// asked.
    fn connections_of(&self, user: &str) -> Answer<Result<Connections, HubError>>;

    /// Whether the directory announces each transition to every node itself
    /// (a shared directory: the node that decides it may not be the node of
    /// the watchers). Then the answers above still say what happened, but
    /// the registry leaves the telling of watchers to the announcements.
    fn announces_transitions(&self) -> bool {
        false
    }
}

#[derive(Debug)]
struct Entry {
    holder: Holder,
    epoch: Epoch,
    /// When the lease (or the grace window) runs out; `None` for local holders.
    deadline: Option<Instant>,
    /// The holder dropped; the address is in its grace window.
    lingering: bool,
}

impl Entry {
    /// A live session's holding: one of its user's connections.
    fn is_connection(&self) -> bool {
        matches!(self.holder, Holder::Session { .. }) && !self.lingering
    }
}

/// One node's address directory. See the module docs.
#[derive(Debug)]
pub(crate) struct MemoryAddressDirectory {
    entries: HashMap<Arc<str>, Entry>,
    /// Lease deadlines in order, so `expire` pops only what has run out:
    /// O(expired · log n), never a scan of every address.
    deadlines: BTreeSet<(Instant, Arc<str>)>,
    last_epoch: u64,
    /// Cap on `entries` (`max_registered`).
    max_entries: usize,
    /// Live session holdings of devices per user (`alice/phone`).
    connections: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Cap on each of `connections` (`user_connection_limit`; 0: none).
    user_limit: usize,
    /// Entries (held or lingering) of devices per user: the user is online
    /// while it has one, or an entry of its own address.
    present: HashMap<Arc<str>, usize>,
}

impl MemoryAddressDirectory {
    pub(crate) fn new(max_entries: usize) -> Self {
        Self {
            entries: HashMap::new(),
            deadlines: BTreeSet::new(),
            last_epoch: 0,
            max_entries,
            connections: HashMap::new(),
            user_limit: 0,
            present: HashMap::new(),
        }
    }

    /// Each user holds at most `limit` connections (0: no cap).
    pub(crate) fn with_user_limit(mut self, limit: usize) -> Self {
        self.user_limit = limit;
        self
    }

    /// Removes `address`'s entry; with it, whether its user went offline.
    fn remove(&mut self, address: &Arc<str>) -> Option<(Entry, bool)> {
        let entry = self.entries.remove(address)?;
        if let Some(deadline) = entry.deadline {
            self.deadlines.remove(&(deadline, address.clone()));
        }
        if entry.is_connection() {
            self.count_connection(address, false);
        }
        self.count_present(address, false);
        let absent = !self.user_present(user_of(address).unwrap_or(address));
        Some((entry, absent))
    }

    fn set_deadline(&mut self, address: &Arc<str>, ttl: Duration) {
        let Some(entry) = self.entries.get_mut(address) else {
            return;
        };
        if matches!(entry.holder, Holder::Local { .. }) && !entry.lingering {
            return;
        }
        if let Some(old) = entry.deadline {
            self.deadlines.remove(&(old, address.clone()));
        }
        let deadline = Instant::now() + ttl;
        entry.deadline = Some(deadline);
        self.deadlines.insert((deadline, address.clone()));
    }

    fn grant(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
    ) -> Result<Grant, HubError> {
        let session = matches!(holder, Holder::Session { .. });
        let counted = self.entries.get(address).is_some_and(Entry::is_connection);
        if session && !counted && self.user_limit > 0 {
            let user = user_of(address).unwrap_or(address);
            if self.connections_held(user) >= self.user_limit {
                return Err(HubError::TooManyUserConnections {
                    user: user.to_owned(),
                    max: self.user_limit,
                });
            }
        }
        let user = user_of(address);
        let was_present = self.user_present(user.unwrap_or(address));
        let (evicted, came_online) = match self.entries.get(address) {
            Some(held) if held.holder == holder && !held.lingering => {
                let epoch = held.epoch;
                self.set_deadline(address, ttl);
                return Ok(Grant {
                    epoch,
                    evicted: None,
                    came_online: false,
                    user_came_online: false,
                });
            }
            Some(held)
                if matches!(held.holder, Holder::Local { .. })
                    && matches!(holder, Holder::Session { .. })
                    && !held.lingering =>
            {
                return Err(HubError::AddressReserved(address.to_string()));
            }
            // Taken over within its grace window: no one else notices.
            Some(held) if held.lingering => {
                self.remove(address);
                (None, false)
            }
            Some(_) => {
                let evicted = self.remove(address).map(|(old, _)| Lease {
                    address: address.clone(),
                    holder: old.holder,
                    epoch: old.epoch,
                });
                (evicted, false)
            }
            None if self.entries.len() >= self.max_entries => {
                return Err(HubError::RegistryFull(self.max_entries));
            }
            None => (None, true),
        };
        self.last_epoch += 1;
        let epoch = Epoch(self.last_epoch);
        self.entries.insert(
            address.clone(),
            Entry {
                holder,
                epoch,
                deadline: None,
                lingering: false,
            },
        );
        if session {
            self.count_connection(address, true);
        }
        self.count_present(address, true);
        self.set_deadline(address, ttl);
        // A user's own address is online while any of its connections is.
        let (came_online, user_came_online) = match user {
            Some(_) => (came_online, !was_present),
            None => (!was_present, false),
        };
        Ok(Grant {
            epoch,
            evicted,
            came_online,
            user_came_online,
        })
    }
}

impl AddressDirectory for MemoryAddressDirectory {
    fn claim(
        &mut self,
        address: &Arc<str>,
        holder: Holder,
        ttl: Duration,
    ) -> Answer<Result<Grant, HubError>> {
        Answer::now(self.grant(address, holder, ttl))
    }

    fn release(&mut self, address: &Arc<str>, epoch: Epoch, grace: Duration) -> Answer<Released> {
        let Some(entry) = self
            .entries
            .get_mut(address)
            .filter(|e| e.epoch == epoch && !e.lingering)
        else {
            return Answer::now(Released::default());
        };
        if grace.is_zero() || matches!(entry.holder, Holder::Local { .. }) {
            let absent = self.remove(address).is_some_and(|(_, absent)| absent);
            let (went_offline, user_went_offline) = offline(address, absent);
            return Answer::now(Released {
                ended: true,
                went_offline,
                user_went_offline,
            });
        }
        entry.lingering = true;
        self.count_connection(address, false);
        self.set_deadline(address, grace);
        Answer::now(Released {
            ended: true,
            went_offline: false,
            user_went_offline: false,
        })
    }

    fn renew(&mut self, leases: &[Lease], ttl: Duration) -> Answer<Vec<Arc<str>>> {
        let mut lost = Vec::new();
        for Lease { address, epoch, .. } in leases {
            let held = |e: &Entry| e.epoch == *epoch && !e.lingering;
            if self.entries.get(address).is_some_and(held) {
                self.set_deadline(address, ttl);
            } else {
                lost.push(address.clone());
            }
        }
        Answer::now(lost)
    }

    fn expire(&mut self, now: Instant) -> Answer<Vec<Expired>> {
        let mut expired = Vec::new();
        while let Some((deadline, address)) = self.deadlines.first().cloned() {
            if deadline > now {
                break;
            }
            if let Some((entry, absent)) = self.remove(&address) {
                let (went_offline, user_went_offline) = offline(&address, absent);
                expired.push(Expired {
                    lease: Lease {
                        address,
                        holder: entry.holder,
                        epoch: entry.epoch,
                    },
                    live: !entry.lingering,
                    went_offline,
                    user_went_offline,
                    lost_client: None,
                });
            }
        }
        Answer::now(expired)
    }

    fn locate(&self, address: &str) -> Answer<Option<Lease>> {
        Answer::now(
            self.entries
                .get_key_value(address)
                .filter(|(_, entry)| !entry.lingering)
                .map(|(address, entry)| Lease {
                    address: address.clone(),
                    holder: entry.holder,
                    epoch: entry.epoch,
                }),
        )
    }

    fn online(&self, address: &str) -> Answer<Result<bool, HubError>> {
        // A user's own address: any of its connections (held or lingering).
        let online = match user_of(address) {
            Some(_) => self.entries.contains_key(address),
            None => self.user_present(address),
        };
        Answer::now(Ok(online))
    }

    fn connections_of(&self, user: &str) -> Answer<Result<Connections, HubError>> {
        let devices = self.connections.get(user).map_or(&[][..], Vec::as_slice);
        let on = |(address, entry): (&Arc<str>, &Entry)| match entry.holder {
            Holder::Session { node, .. } if !entry.lingering => Some((address.clone(), node)),
            _ => None,
        };
        let own = self.entries.get_key_value(user).and_then(on);
        let held = devices
            .iter()
            .filter_map(|d| self.entries.get_key_value(d))
            .filter_map(on);
        Answer::now(Ok(own.into_iter().chain(held).collect()))
    }
}

#[path = "addresses_users.rs"]
mod users;
use users::offline;

#[cfg(test)]
#[path = "addresses_tests.rs"]
mod tests;
