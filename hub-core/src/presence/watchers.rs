//! [`Watchers`]: who hears each address come online and go offline. Kept by
//! the registry, which learns every transition from the address directory
//! and hands it here; each event is encoded once and its bytes shared by
//! every watcher's queue.
//!
//! It also remembers what its watchers were last told of each address, so
//! a transition they already know of (one announced twice, or one the
//! `hub:watch_ack` already showed) is not told again, and after a gap in
//! the announcements the registry can tell them only what changed.

use std::collections::HashMap;
use std::sync::Arc;

use bytestring::ByteString;

use crate::outbox::{OutFrame, Pushed, SessionHandle, SessionId};
use crate::protocol::presence::AddressEvent;
use crate::protocol::ServerFrame;

/// Watchers by address. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    by_address: HashMap<Arc<str>, Watched>,
}

/// One watched address: its watchers, and whether they were last told it
/// is online.
#[derive(Debug, Default)]
struct Watched {
    online: bool,
    handles: HashMap<SessionId, SessionHandle>,
}

impl Watchers {
    /// `handle` watches `address` (again: no change), having been told it is
    /// `online` (its `hub:watch_ack`).
    pub(crate) fn add(&mut self, address: Arc<str>, handle: SessionHandle, online: bool) {
        let watched = self.by_address.entry(address).or_default();
        watched.online = online;
        watched.handles.insert(handle.id, handle);
    }

    /// Every watched address and what its watchers were last told.
    pub(crate) fn told(&self) -> Vec<(Arc<str>, bool)> {
        self.by_address
            .iter()
            .map(|(address, watched)| (address.clone(), watched.online))
            .collect()
    }

    /// `session` no longer watches `address`.
    pub(crate) fn remove(&mut self, address: &str, session: SessionId) {
        if let Some(watched) = self.by_address.get_mut(address) {
            watched.handles.remove(&session);
            if watched.handles.is_empty() {
                self.by_address.remove(address);
            }
        }
    }

    /// Tells every watcher of `address` it came online or went offline,
    /// unless that is what they were last told. Returns how many queues
    /// took the event; drops watchers whose session is gone.
    pub(crate) fn notify(&mut self, address: &str, online: bool) -> usize {
        let Some(watched) = self.by_address.get_mut(address) else {
            return 0;
        };
        if watched.online == online {
            return 0;
        }
        watched.online = online;
        let watchers = &mut watched.handles;
        let event = AddressEvent {
            address: std::borrow::Cow::Borrowed(address),
        };
        let frame = match online {
            true => ServerFrame::Online(event),
            false => ServerFrame::Offline(event),
        };
        let frame = OutFrame::text(ByteString::from(frame.to_json()));
        let mut told = 0;
        watchers.retain(|_, handle| match handle.push_frame(frame.clone()) {
            Pushed::Accepted => {
                told += 1;
                true
            }
            Pushed::Slow => true,
            Pushed::Gone => false,
        });
        if watchers.is_empty() {
            self.by_address.remove(address);
        }
        told
    }

    /// Addresses watched by anyone on this node.
    #[cfg(test)]
    pub(crate) fn watched(&self) -> usize {
        self.by_address.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::handle;

    #[test]
    fn each_watcher_hears_each_change_once_and_gone_ones_are_dropped() {
        let mut w = Watchers::default();
        let (a, mut a_q) = handle(1, 8);
        let (b, b_q) = handle(2, 8);
        let bob: Arc<str> = "bob".into();
        w.add(bob.clone(), a.clone(), true);
        w.add(bob.clone(), a, true);
        w.add(bob.clone(), b, true);
        drop(b_q);
        assert_eq!(w.notify(&bob, false), 1, "the gone watcher is dropped");
        let text = format!("{:?}", a_q.try_recv().unwrap());
        assert!(text.contains("hub:offline"), "{text}");
        assert!(a_q.try_recv().is_err(), "once, though added twice");
        assert_eq!(w.notify(&bob, false), 0, "told already");
        assert!(a_q.try_recv().is_err(), "not told twice");
        assert_eq!(w.told(), vec![(bob.clone(), false)]);
        w.remove("bob", SessionId(1));
        assert_eq!((w.notify(&bob, true), w.watched()), (0, 0));
    }
}
