//! [`Broker`]: delivery between nodes.
//!
//! A node tells the broker which topics it has subscribers for, hands it
//! every publication (already encoded, once) for the other nodes interested
//! in the topic, and hands it direct messages for addresses no holder on
//! this node has, to be delivered on the node that holds them, with that
//! node's outcome. Publications cross encoded, so a receiving node fans out
//! the same bytes without parsing the payload.
//!
//! [`MemoryBroker`] is the broker of a hub with one node: there is no other
//! node, so nothing leaves; it answers at once. The Redis broker
//! (the `redis` module) is the other.

use std::sync::Arc;

use bytestring::ByteString;
use serde_json::value::RawValue;

use super::census::{Census, Question};
use super::Answer;
use crate::error::HubError;
use crate::protocol::{CloseCode, Correlation};

/// Delivers a direct message to a holder on this node (the router's
/// `send`): from, to, payload, correlation.
pub(crate) type LocalSend =
    Arc<dyn Fn(&str, &str, &RawValue, Correlation<&str>) -> Result<(), HubError> + Send + Sync>;

/// Delivers a `"*"` broadcast to every holder on this node but the sender
/// (the router's `broadcast`): from, payload; how many took it.
pub(crate) type LocalBroadcast = Arc<dyn Fn(&str, &RawValue) -> usize + Send + Sync>;

/// Closes the session holding an address on this node (the router's
/// `disconnect`): address, code; whether a session here held it.
pub(crate) type LocalDisconnect = Arc<dyn Fn(&str, CloseCode) -> bool + Send + Sync>;

/// Closes a user's connections on this node but one (the router's
/// `disconnect_user`): user, the one kept, code; how many it closed.
pub(crate) type LocalDisconnectUser =
    Arc<dyn Fn(&str, Option<&str>, CloseCode) -> usize + Send + Sync>;

/// What other nodes may ask of this node's router (read only by an
/// engine shared by nodes).
#[derive(Clone)]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct LocalRouter {
    pub(crate) send: LocalSend,
    pub(crate) everyone: LocalBroadcast,
    pub(crate) disconnect: LocalDisconnect,
    pub(crate) disconnect_user: LocalDisconnectUser,
    /// This node's answer to a question asked of every node.
    pub(crate) census: Census,
}

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

    /// Sends a direct message to `to`, which no session or actor on this
    /// node holds, on the node that holds it, if any; answers with that
    /// node's outcome (`Ok`: its recipient's queue took it;
    /// `RecipientNotFound`, `RecipientSlow` as on one node; `Unavailable`
    /// when the other nodes cannot be asked). With `outcome` false only
    /// whether a node holds `to` is known (fire-and-forget sends): `Ok`
    /// once the message is on its way there.
    fn send_elsewhere(
        &self,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
        outcome: bool,
    ) -> Answer<Result<(), HubError>>;

    /// Whether other nodes share the hub (a send may have more to do
    /// elsewhere). One node alone: no.
    fn shared(&self) -> bool {
        false
    }

    /// Copies a direct message to the connections of `user` on the other
    /// nodes (its own address, its devices `alice/phone`), without an
    /// answer: this node delivered its own part, and the send's outcome is
    /// its. A node with no other nodes has nothing to do.
    fn copy_to_user_elsewhere(
        &self,
        from: &str,
        user: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
    ) {
        let _ = (from, user, payload, correlation);
    }

    /// A `"*"` broadcast for the addresses held on the other nodes;
    /// answers with how many recipients took it there.
    fn broadcast_elsewhere(
        &self,
        from: &str,
        payload: &RawValue,
    ) -> Answer<Result<usize, HubError>>;

    /// Closes the session holding `address` on whichever other node holds
    /// it; answers whether one did.
    fn disconnect_elsewhere(
        &self,
        address: &str,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>>;

    /// Closes the connections of `user` (its own address, its devices) but
    /// `keep` on every other node that has one; answers whether one did.
    fn disconnect_user_elsewhere(
        &self,
        user: &str,
        keep: Option<&str>,
        code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        let _ = (user, keep, code);
        Answer::now(Ok(false))
    }

    /// Keeps `revocation` where nodes that start later read it
    /// ([`Broker::revocations`]). One node alone: nowhere (its list lives
    /// in memory).
    fn keep_revocation(
        &self,
        _revocation: &crate::revocations::Revocation,
    ) -> Answer<Result<(), HubError>> {
        Answer::now(Ok(()))
    }

    /// The revocations kept for the hub, read when a node starts.
    fn revocations(&self) -> Answer<Vec<crate::revocations::Revocation>> {
        Answer::now(Vec::new())
    }

    /// Asks every other node `question`; answers with the JSON answers of
    /// those that answered in time.
    fn census_elsewhere(&self, question: &Question) -> Answer<Vec<String>>;

    /// Gives the broker this node's router, for what other nodes send or
    /// ask here: a direct message to one of its holders, a `"*"`
    /// broadcast to all of them, a disconnect.
    fn attach(&self, _local: LocalRouter) {}

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

    fn send_elsewhere(
        &self,
        _from: &str,
        to: &str,
        _payload: &RawValue,
        _correlation: Correlation<&str>,
        _outcome: bool,
    ) -> Answer<Result<(), HubError>> {
        // No other node holds anything.
        Answer::now(Err(HubError::RecipientNotFound(to.to_owned())))
    }

    fn broadcast_elsewhere(
        &self,
        _from: &str,
        _payload: &RawValue,
    ) -> Answer<Result<usize, HubError>> {
        Answer::now(Ok(0))
    }

    fn disconnect_elsewhere(
        &self,
        _address: &str,
        _code: CloseCode,
    ) -> Answer<Result<bool, HubError>> {
        Answer::now(Ok(false))
    }

    fn census_elsewhere(&self, _question: &Question) -> Answer<Vec<String>> {
        Answer::now(Vec::new())
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
        let payload = RawValue::from_string("1".into()).unwrap();
        let sent = broker.send_elsewhere("a", "b", &payload, Correlation::default(), true);
        assert!(
            matches!(sent.into_now(), Ok(Err(HubError::RecipientNotFound(to))) if to == "b"),
            "no other node holds anything"
        );
        let everyone = broker.broadcast_elsewhere("a", &payload).into_now();
        assert!(matches!(everyone, Ok(Ok(0))));
        let closed = broker
            .disconnect_elsewhere("b", CloseCode::Kicked)
            .into_now();
        assert!(matches!(closed, Ok(Ok(false))));
        let answers = broker.census_elsewhere(&Question::Node).into_now();
        assert!(matches!(answers, Ok(a) if a.is_empty()));
        broker.unsubscribe(&[topic]).into_now().unwrap();
    }
}
