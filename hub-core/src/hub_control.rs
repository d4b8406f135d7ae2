//! What the application orders of a user's sessions, wherever they are:
//! revoking a token or a user ([`Hub::revoke`]: kept on every node and,
//! with the Redis engine, in Redis for nodes that start later; the sessions
//! it revokes are closed with `revoked`, 4503), and subscribing a user to a
//! topic or ending it ([`Hub::subscribe_user`], server-side subscriptions).

use super::Hub;
use crate::error::HubError;
use crate::node::close_revoked;
use crate::revocations::{ListFull, Revocation};
use crate::seams::census::Question;

impl Hub {
    /// Revokes a user (every token of it: its own address and its devices)
    /// or one token (by its `jti`) until `revocation.until_ms`: a connect,
    /// a token refresh or a subscription token of it is refused
    /// (`unauthorized`) until then, and the sessions holding it now are
    /// closed with `revoked` (4503). Answers how many sessions were closed
    /// (with the Redis engine: on every node that answered within
    /// `redis_command_timeout_ms`; the others read the revocation from
    /// Redis when they start).
    ///
    /// # Errors
    /// `revocations_full` (`max_revocations` unexpired ones are kept), or
    /// `unavailable` when Redis could not keep it.
    pub async fn revoke(&self, revocation: Revocation) -> Result<usize, HubError> {
        let node = &self.node;
        node.revocations
            .add(&revocation)
            .map_err(|ListFull(max)| HubError::RevocationsFull(max))?;
        node.broker.keep_revocation(&revocation).await?;
        let mut closed = close_revoked(&node.router, &node.revocations, &revocation);
        let elsewhere = node.broker.census_elsewhere(&Question::Revoke(revocation));
        for answer in elsewhere.await {
            closed += answer.parse::<usize>().unwrap_or(0);
        }
        Ok(closed)
    }
}

impl Hub {
    /// Subscribes every connection of `user` (its own address and each of
    /// its devices, on every node) to `topic`, as the server: each hears
    /// `hub:subscribed`, whatever its own rights. Answers how many sessions
    /// were told (with the Redis engine: on the nodes that answered within
    /// `redis_command_timeout_ms`). Connections made later are not: give
    /// them the topic in their token's `channels` claim.
    ///
    /// # Errors
    /// `invalid_name` (the user or topic), `unknown_namespace`.
    pub async fn subscribe_user(&self, user: &str, topic: &str) -> Result<usize, HubError> {
        self.order_user(user, topic, true).await
    }

    /// Ends the subscription to `topic` of every connection of `user` on
    /// every node (`hub:unsubscribed`, reason `server`); as
    /// [`Hub::subscribe_user`].
    ///
    /// # Errors
    /// As [`Hub::subscribe_user`].
    pub async fn unsubscribe_user(&self, user: &str, topic: &str) -> Result<usize, HubError> {
        self.order_user(user, topic, false).await
    }

    async fn order_user(
        &self,
        user: &str,
        topic: &str,
        subscribe: bool,
    ) -> Result<usize, HubError> {
        let router = &self.node.router;
        router.check_name("user", user)?;
        router.check_name("topic", topic)?;
        if self.node.permissions.options_of(topic).is_none() {
            let namespace = crate::permissions::Permissions::namespace_of(topic);
            return Err(HubError::UnknownNamespace(namespace.to_owned()));
        }
        let mut told = router.order_user(user, &topic.into(), subscribe);
        let question = Question::Subscription {
            user: user.to_owned(),
            topic: topic.to_owned(),
            subscribe,
        };
        for answer in self.node.broker.census_elsewhere(&question).await {
            told += answer.parse::<usize>().unwrap_or(0);
        }
        Ok(told)
    }
}
