//! What a session tells the hub's lifecycle sink (`crate::lifecycle`, the
//! webhooks): it connected, it disconnected, it joined or left a topic
//! while connected. Nothing is built when no sink listens.

use std::sync::Arc;

use super::Session;
use crate::lifecycle::Lifecycle;

impl Session {
    /// Tells the sink, if any, the event `make` builds for this session's
    /// address.
    fn tell(&self, make: impl FnOnce(Arc<str>, Arc<str>) -> Lifecycle) {
        if let (Some(sink), Some(address)) = (&self.node.lifecycle, self.address()) {
            sink.tell(make(self.wire_id.clone(), address.clone()));
        }
    }

    /// It connected (`hub:connected` went out).
    pub(super) fn told_connected(&self) {
        self.tell(|client, address| Lifecycle::Connected { client, address });
    }

    /// It ended, holding `address`, for `reason`.
    pub(super) fn told_disconnected(&self, address: &Arc<str>, reason: &'static str) {
        if let Some(sink) = &self.node.lifecycle {
            sink.tell(Lifecycle::Disconnected {
                client: self.wire_id.clone(),
                address: address.clone(),
                reason,
            });
        }
    }

    /// It joined `topic`, asked by its client or by the server (`by`).
    pub(super) fn told_subscribed(&self, topic: &Arc<str>, by: &'static str) {
        self.tell(|client, address| Lifecycle::Subscribed {
            client,
            address,
            topic: topic.clone(),
            by,
        });
    }

    /// It left `topic` while connected, for `reason`.
    pub(super) fn told_unsubscribed(&self, topic: &str, reason: &'static str) {
        self.tell(|client, address| Lifecycle::Unsubscribed {
            client,
            address,
            topic: topic.into(),
            reason,
        });
    }
}
