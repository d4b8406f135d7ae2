//! What the registry tells when an address, and its user, come online or
//! go offline: the lifecycle sink (the user, once in the hub) and the
//! watchers on this node.

use std::sync::Arc;

use super::Registry;
use crate::lifecycle::Lifecycle;

impl Registry {
    /// `address` (`own`) and its user (`user`, for a device's address)
    /// came online or went offline, as this node's directory call decided:
    /// the lifecycle sink hears of the user (once in the hub: the call
    /// that decided it was this node's), and the watchers here of both —
    /// unless the directory announces transitions to every node itself.
    pub(super) fn transitioned(&mut self, address: &str, (own, user): (bool, bool), online: bool) {
        if let Some(sink) = &self.lifecycle {
            // A device's user, or a user's own address.
            let (user, went) = match crate::protocol::user_of(address) {
                Some(of) => (of, user),
                None => (address, own),
            };
            if went {
                let user: Arc<str> = user.into();
                sink.tell(if online {
                    Lifecycle::UserOnline { user }
                } else {
                    Lifecycle::UserOffline { user }
                });
            }
        }
        if self.directory.announces_transitions() {
            return;
        }
        if own {
            self.watchers.notify(address, online);
        }
        if let (true, Some(user)) = (user, crate::protocol::user_of(address)) {
            self.watchers.notify(user, online);
        }
    }
}
