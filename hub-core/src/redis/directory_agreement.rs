//! [`Agreement`]: every node of a hub must put an address in the same
//! directory shard, or two nodes could each grant it to a session of
//! their own. Each node writes its shard count (`redis_directory_shards`)
//! to one key, with a time to live it renews on every lease sweep, unless
//! the key holds another count: then the node reports not ready and
//! refuses connects until the counts agree. A hub whose nodes were all
//! stopped for longer than the time to live may start with a new count.

use std::sync::atomic::{AtomicUsize, Ordering};

use fred::prelude::Client;
use fred::types::scripts::Script;

use super::Keys;

/// How long the hub's count stays recorded once no node renews it.
const KEPT_MS: u64 = 30_000;

/// See the module docs.
pub(crate) struct Agreement {
    ours: usize,
    /// The count the hub's key held at the last check (0: not read yet).
    hubs: AtomicUsize,
    script: Script,
}

impl Agreement {
    pub(crate) fn new(ours: usize) -> Self {
        Self {
            ours,
            hubs: AtomicUsize::new(0),
            script: Script::from_lua(include_str!("scripts/agree.lua")),
        }
    }

    /// The hub's count, when it is not this node's.
    pub(crate) fn differs(&self) -> Option<usize> {
        let hubs = self.hubs.load(Ordering::Acquire);
        (hubs != 0 && hubs != self.ours).then_some(hubs)
    }

    /// Why this node must not serve, when the counts differ.
    pub(crate) fn unready_reason(&self) -> Option<String> {
        self.differs().map(|hubs| {
            format!(
                "redis: this node's redis_directory_shards is {}, the hub's nodes use {hubs}: \
                 every node must use the same",
                self.ours
            )
        })
    }

    /// Records this node's count unless the hub's key holds another, and
    /// remembers which. A Redis that does not answer changes nothing.
    pub(crate) async fn check(&self, client: &Client, keys: &Keys) {
        let args = vec![self.ours.to_string(), KEPT_MS.to_string()];
        let key = vec![keys.shard_count_name.as_str()];
        let Ok(hubs) = self
            .script
            .evalsha_with_reload::<u64, _, _>(client, key, args)
            .await
        else {
            return;
        };
        let hubs = usize::try_from(hubs).unwrap_or(usize::MAX);
        let was = self.hubs.swap(hubs, Ordering::AcqRel);
        if hubs != self.ours && was != hubs {
            tracing::error!(
                ours = self.ours,
                hubs,
                "redis_directory_shards differs from the other nodes': refusing connects"
            );
        } else if hubs == self.ours && was != 0 && was != hubs {
            tracing::info!(
                shards = hubs,
                "redis_directory_shards agrees with the hub's again"
            );
        }
    }
}
