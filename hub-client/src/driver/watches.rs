//! The addresses this client watches (`hub:watch`), each with the state the
//! server last told: watched again after a reconnect, and a change that
//! happened while the link was down reported as the event it would have
//! been (`hub:online` / `hub:offline` are not replayed by the server).

use std::collections::HashMap;

/// Watched addresses. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Watches {
    /// address → online, as last told; `None` until the first answer.
    known: HashMap<String, Option<bool>>,
}

impl Watches {
    /// `address` is watched from now on (a `hub:watch` was taken on).
    pub(crate) fn watch(&mut self, address: &str) {
        self.known.entry(address.to_owned()).or_insert(None);
    }

    /// `address` is no longer watched.
    pub(crate) fn unwatch(&mut self, address: &str) {
        self.known.remove(address);
    }

    /// The server says `address` is `online`. Returns whether that is news
    /// (a change from what was last told; the first answer is not).
    pub(crate) fn told(&mut self, address: &str, online: bool) -> bool {
        let Some(known) = self.known.get_mut(address) else {
            return false;
        };
        let changed = known.is_some_and(|was| was != online);
        *known = Some(online);
        changed
    }

    /// Every watched address, to watch again after a reconnect.
    pub(crate) fn addresses(&self) -> Vec<String> {
        self.known.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_from_what_was_told_is_news() {
        let mut w = Watches::default();
        assert!(!w.told("bob", true), "not watched");
        w.watch("bob");
        assert!(!w.told("bob", true), "the first answer is not news");
        assert!(!w.told("bob", true));
        assert!(w.told("bob", false));
        w.watch("bob");
        assert!(w.told("bob", true), "watching again keeps what was told");
        w.unwatch("bob");
        assert!(w.addresses().is_empty());
    }
}
