//! [`Occupancy`]: whether a topic has subscribers anywhere in the hub. Each
//! node's topic actor says when it gains its first subscriber and loses its
//! last; the hub's first and last are told to the lifecycle sink
//! (`occupied`, `vacated`) once. One node's topics are the hub's
//! ([`NodeOccupancy`]); with Redis the nodes agree there
//! (`redis::occupancy`).

use std::sync::Arc;

use crate::lifecycle::{Lifecycle, LifecycleSink};

/// See the module docs.
pub(crate) trait Occupancy: Send + Sync + 'static {
    /// This node's `topic` has subscribers now (`true`), or none.
    fn changed(&self, topic: &Arc<str>, occupied: bool);
}

/// One node's topics: each change is the hub's.
pub(crate) struct NodeOccupancy(pub(crate) Arc<dyn LifecycleSink>);

impl Occupancy for NodeOccupancy {
    fn changed(&self, topic: &Arc<str>, occupied: bool) {
        let topic = topic.clone();
        self.0.tell(if occupied {
            Lifecycle::Occupied { topic }
        } else {
            Lifecycle::Vacated { topic }
        });
    }
}
