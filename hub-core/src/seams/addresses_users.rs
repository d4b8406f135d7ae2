//! [`MemoryAddressDirectory`]'s count of each user: its live session
//! connections (for `user_connection_limit` and `connections_of`) and its
//! entries, held or lingering (the user is online while it has one).

use std::sync::Arc;

use super::MemoryAddressDirectory;
use crate::protocol::user_of;

impl MemoryAddressDirectory {
    /// Counts `address` as one of its user's connections (`true`), or no
    /// longer.
    pub(super) fn count_connection(&mut self, address: &Arc<str>, more: bool) {
        let user = user_of(address).unwrap_or(address);
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

    /// Counts an entry of `address`'s user more (`true`) or fewer; answers
    /// whether the user came online or went offline with it.
    pub(super) fn count_present(&mut self, address: &str, more: bool) -> bool {
        let user = user_of(address).unwrap_or(address);
        if more {
            let n = self.present.entry(user.into()).or_default();
            *n += 1;
            return *n == 1;
        }
        let Some(n) = self.present.get_mut(user) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        self.present.remove(user);
        true
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
