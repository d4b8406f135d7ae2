//! [`Watchers`]: who hears each address come online and go offline. Kept by
//! the registry, which learns every transition from the address directory
//! and hands it here; each event is encoded once and its bytes shared by
//! every watcher's queue.

use std::collections::HashMap;
use std::sync::Arc;

use bytestring::ByteString;

use crate::outbox::{OutFrame, Pushed, SessionHandle, SessionId};
use crate::protocol::presence::AddressEvent;
use crate::protocol::ServerFrame;

/// Watchers by address. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    by_address: HashMap<Arc<str>, HashMap<SessionId, SessionHandle>>,
}

impl Watchers {
    /// `handle` watches `address` (again: no change).
    pub(crate) fn add(&mut self, address: Arc<str>, handle: SessionHandle) {
        self.by_address
            .entry(address)
            .or_default()
            .insert(handle.id, handle);
    }

    /// `session` no longer watches `address`.
    pub(crate) fn remove(&mut self, address: &str, session: SessionId) {
        if let Some(watchers) = self.by_address.get_mut(address) {
            watchers.remove(&session);
            if watchers.is_empty() {
                self.by_address.remove(address);
            }
        }
    }

    /// Tells every watcher of `address` it came online or went offline.
    /// Returns how many queues took the event; drops watchers whose session
    /// is gone.
    pub(crate) fn notify(&mut self, address: &Arc<str>, online: bool) -> usize {
        let Some(watchers) = self.by_address.get_mut(address) else {
            return 0;
        };
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
        w.add(bob.clone(), a.clone());
        w.add(bob.clone(), a);
        w.add(bob.clone(), b);
        drop(b_q);
        assert_eq!(w.notify(&bob, false), 1, "the gone watcher is dropped");
        let text = format!("{:?}", a_q.try_recv().unwrap());
        assert!(text.contains("hub:offline"), "{text}");
        assert!(a_q.try_recv().is_err(), "once, though added twice");
        w.remove("bob", SessionId(1));
        assert_eq!((w.notify(&bob, true), w.watched()), (0, 0));
    }
}
