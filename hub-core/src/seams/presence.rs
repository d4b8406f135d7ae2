//! [`SharedPresence`]: topic members kept for every node of the hub at once
//! (the Redis engine), instead of by each topic actor for its own node.
//!
//! A topic actor still decides, from its own subscribers and their grace
//! windows, when an address joins or leaves on its node, and hands each
//! change here; the shared store decides whether the hub saw a join or a
//! leave (an address that moved to another node within its grace did
//! neither) and announces it to every node, whose topic actors tell their
//! listeners. Pages and counts are read from the shared store.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::Answer;
use crate::error::HubError;

/// A page of members: (address, info) in address order, the `after` of the
/// next page when more follow, and how many members the topic has.
pub(crate) type MemberPage = (
    Vec<(Arc<str>, Option<Arc<RawValue>>)>,
    Option<Arc<str>>,
    usize,
);

/// See the module docs.
pub(crate) trait SharedPresence: std::fmt::Debug + Send + Sync + 'static {
    /// `address` became a member of `topic` on this node, with `info`.
    fn joined(&self, topic: &str, address: &str, info: Option<&RawValue>);

    /// `address` is no longer a member of `topic` on this node.
    fn left(&self, topic: &str, address: &str);

    /// Up to `limit` members of `topic` after `after`.
    fn page(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Answer<Result<MemberPage, HubError>>;
}
