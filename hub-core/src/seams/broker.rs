//! [`Broker`]: delivery between nodes.
//!
//! A node tells the broker which topics it has subscribers for, hands it
//! every publication (already encoded, once) for the other nodes interested
//! in the topic, and hands it direct messages and broadcasts for addresses
//! that the [address directory](super::addresses) says are held on another
//! node. Frames cross the broker encoded, so a receiving node fans out the
//! same bytes without parsing the payload.
//!
//! [`MemoryBroker`] is the broker of a hub with one node: there is no other
//! node, so nothing leaves; it answers at once. A Redis broker would
//! `SUBSCRIBE` to one channel per topic the node has subscribers for (in
//! batches, when topic actors start and retire), `PUBLISH` each publication
//! with the origin node's id so that node skips its own echo, use one
//! channel per node for direct messages and broadcasts (one `PUBLISH` per
//! destination node, carrying every address there), and hand what arrives to
//! the node's router, which pushes it into local topic actors and sessions as
//! if it had been published or sent here.

use std::sync::Arc;

use bytestring::ByteString;

use super::{Answer, NodeId};
use crate::error::HubError;

/// Delivery between nodes. See the module docs.
pub(crate) trait Broker: std::fmt::Debug + Send + Sync + 'static {
    /// From now on this node wants publications to `topics` made on other
    /// nodes. Idempotent.
    fn subscribe(&self, topics: &[Arc<str>]) -> Answer<Result<(), HubError>>;

    /// This node no longer wants publications to `topics`. Idempotent.
    fn unsubscribe(&self, topics: &[Arc<str>]) -> Answer<()>;

    /// Hands an encoded `hub:message` published to `topic` here to every
    /// other node subscribed to it. Local subscribers are not this call's
    /// business: the topic actor fans out to them.
    fn publish(&self, topic: &str, frame: &ByteString) -> Answer<Result<(), HubError>>;

    /// Hands an encoded `hub:message` to `node` for `addresses` it holds (a
    /// direct send names one, a broadcast every recipient on that node).
    /// Returns the addresses that node did not hold (any more).
    ///
    /// The router calls it once the address directory can name another node
    /// as an address's holder; with one node it never does (multi-node issue).
    #[allow(dead_code)]
    fn deliver(
        &self,
        node: NodeId,
        addresses: &[Arc<str>],
        frame: &ByteString,
    ) -> Answer<Result<Vec<Arc<str>>, HubError>>;

    /// Why this node cannot reach the other nodes now (Redis away, its
    /// subscriptions being restored); `None` when it can. Shown by `/ready`.
    fn unready_reason(&self) -> Option<String> {
        None
    }
}

/// The broker of a hub with one node. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct MemoryBroker;

impl Broker for MemoryBroker {
    fn subscribe(&self, _topics: &[Arc<str>]) -> Answer<Result<(), HubError>> {
        Answer::now(Ok(()))
    }

    fn unsubscribe(&self, _topics: &[Arc<str>]) -> Answer<()> {
        Answer::now(())
    }

    fn publish(&self, _topic: &str, _frame: &ByteString) -> Answer<Result<(), HubError>> {
        // No other node is subscribed to anything.
        Answer::now(Ok(()))
    }

    fn deliver(
        &self,
        _node: NodeId,
        addresses: &[Arc<str>],
        _frame: &ByteString,
    ) -> Answer<Result<Vec<Arc<str>>, HubError>> {
        // No other node holds anything.
        Answer::now(Ok(addresses.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_node_broker_answers_at_once_and_reaches_no_one() {
        let broker = MemoryBroker;
        let topic: Arc<str> = "t".into();
        let frame = ByteString::from_static("{}");
        assert!(broker
            .subscribe(std::slice::from_ref(&topic))
            .into_now()
            .unwrap()
            .is_ok());
        assert!(broker.publish(&topic, &frame).into_now().unwrap().is_ok());
        let missing = broker
            .deliver(NodeId(1), std::slice::from_ref(&topic), &frame)
            .into_now()
            .unwrap()
            .unwrap();
        assert_eq!(
            missing,
            vec![topic.clone()],
            "no other node holds an address"
        );
        broker.unsubscribe(&[topic]).into_now().unwrap();
    }
}
