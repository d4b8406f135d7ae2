//! [`MemoryAddressDirectory`]'s count of each user's devices: their live
//! sessions (for `user_connection_limit` and `connections_of`) and their
//! entries, held or lingering (with its own address's entry: the user is
//! online while it has one). Only users with devices are counted.

use std::sync::Arc;

use super::MemoryAddressDirectory;
use crate::protocol::user_of;

impl MemoryAddressDirectory {
    /// Counts a device's address (`alice/phone`) as one of its user's
    /// connections (`true`), or no longer. A user's own address is found
    /// in the entries: a user with no device costs nothing here.
    pub(super) fn count_connection(&mut self, address: &Arc<str>, more: bool) {
        let Some(user) = user_of(address) else { return };
        if more {
            let held = self.connections.entry(user.into()).or_default();
            held.push(address.clone());
        } else if let Some(held) = self.connections.get_mut(user) {
            held.retain(|a| a != address);
            if held.is_empty() {
                self.connections.remove(user);
            }
        }
    }

    /// `user`'s live session connections: its devices, and its own address
    /// when a session holds it.
    pub(super) fn connections_held(&self, user: &str) -> usize {
        let devices = self.connections.get(user).map_or(0, Vec::len);
        let own = self.entries.get(user).is_some_and(|e| e.is_connection());
        devices + usize::from(own)
    }

    /// Counts an entry of a device's address more (`true`) or fewer.
    pub(super) fn count_present(&mut self, address: &str, more: bool) {
        let Some(user) = user_of(address) else { return };
        if more {
            *self.present.entry(user.into()).or_default() += 1;
        } else if let Some(n) = self.present.get_mut(user) {
            *n -= 1;
            if *n == 0 {
                self.present.remove(user);
            }
        }
    }

    /// Whether `user` is online: an entry (held or lingering) of its own
    /// address or of a device's.
    pub(super) fn user_present(&self, user: &str) -> bool {
        self.entries.contains_key(user) || self.present.contains_key(user)
    }
}

/// Who hears that `address`'s entry is gone (`absent`: its user has no
/// entry left): a device's own watchers always, its user's when the user
/// went with it; a user's own address's watchers when the user went.
pub(super) fn offline(address: &str, absent: bool) -> (bool, bool) {
    match user_of(address) {
        Some(_) => (true, absent),
        None => (absent, false),
    }
}
