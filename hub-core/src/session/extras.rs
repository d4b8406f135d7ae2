//! A session's rarely used state: watched addresses, topics held by a
//! subscription token (or the backend's grant) and RPCs waiting, boxed together so an idle session pays one pointer
//! for both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::topic_tokens::TopicToken;
use super::Session;

/// A session's rarely used state, boxed (see `Session::extras`).
#[derive(Default)]
pub(super) struct Extras {
    /// Addresses it watches. Bounded by `max_watches_per_session`.
    pub(super) watching: HashSet<Arc<str>>,
    /// Topics held by a subscription token, with its rights and timers
    /// (`topic_tokens`).
    pub(super) topic_tokens: HashMap<Arc<str>, TopicToken>,
    /// `hub:rpc` calls waiting for the backend. Bounded by
    /// `max_rpcs_per_session`.
    pub(super) rpcs: usize,
}

impl Session {
    /// The rarely used state, allocated now if it was not.
    pub(super) fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Default::default)
    }
}
