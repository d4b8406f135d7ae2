//! Revoking a token or a user from the application ([`Hub::revoke`]): the
//! revocation is kept on every node (and, with the Redis engine, in Redis
//! for nodes that start later), and the sessions it revokes are closed with
//! `revoked` (4503) wherever they are.

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
