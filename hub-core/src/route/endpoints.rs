//! [`EndpointMap`]: address → endpoint on this node, and beside it each
//! user's connections here (`alice/phone`, `alice/laptop` under `alice`),
//! so that a send to a user finds them without a scan. Only the registry
//! actor writes it; the router reads it on the hot path.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::mapref::one::Ref;
use dashmap::DashMap;

use super::Endpoint;
use crate::protocol::user_of;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct EndpointMap {
    by_address: DashMap<Arc<str>, Endpoint>,
    /// user → the addresses of its connections on this node that name a
    /// device (at most `user_connection_limit` each).
    devices: DashMap<Arc<str>, Vec<Arc<str>>>,
    /// Device connections on this node: while there are none, a send does
    /// not look for a user's devices at all.
    device_count: AtomicUsize,
}

impl EndpointMap {
    pub(crate) fn get(&self, address: &str) -> Option<Ref<'_, Arc<str>, Endpoint>> {
        self.by_address.get(address)
    }

    /// Every endpoint, one shard locked at a time: for `"*"`, not per message.
    pub(crate) fn iter(&self) -> dashmap::iter::Iter<'_, Arc<str>, Endpoint> {
        self.by_address.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_address.len()
    }

    /// The addresses of `user`'s device connections on this node.
    pub(crate) fn devices_of(&self, user: &str) -> Option<Vec<Arc<str>>> {
        if self.device_count.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.devices.get(user).map(|d| d.clone())
    }

    pub(crate) fn insert(&self, address: Arc<str>, endpoint: Endpoint) -> Option<Endpoint> {
        let old = self.by_address.insert(address.clone(), endpoint);
        if old.is_none() {
            if let Some(user) = user_of(&address) {
                self.devices.entry(user.into()).or_default().push(address);
                self.device_count.fetch_add(1, Ordering::Relaxed);
            }
        }
        old
    }

    pub(crate) fn remove(&self, address: &str) -> Option<(Arc<str>, Endpoint)> {
        let removed = self.by_address.remove(address);
        if removed.is_some() {
            self.unindex(address);
        }
        removed
    }

    pub(crate) fn remove_if(
        &self,
        address: &str,
        f: impl FnOnce(&Arc<str>, &Endpoint) -> bool,
    ) -> Option<(Arc<str>, Endpoint)> {
        let removed = self.by_address.remove_if(address, f);
        if removed.is_some() {
            self.unindex(address);
        }
        removed
    }

    fn unindex(&self, address: &str) {
        let Some(user) = user_of(address) else { return };
        self.device_count.fetch_sub(1, Ordering::Relaxed);
        self.devices.remove_if_mut(user, |_, devices| {
            devices.retain(|d| **d != *address);
            devices.is_empty()
        });
    }
}

/// The map the registry writes and the router reads.
pub(crate) type Endpoints = Arc<EndpointMap>;
