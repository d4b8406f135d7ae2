//! The application's view of presence: a topic's members, their count, and
//! whether an address is online, as clients see them with `hub:presence`,
//! `hub:presence_stats` and `hub:watch` (but unchecked: the application is
//! the server).

use std::sync::Arc;

use serde_json::value::RawValue;

use super::Hub;
use crate::error::HubError;
use crate::registry::{ConnectionsOf, IsOnline};
use crate::seams::presence::{PresenceQuery, PresenceRead};

/// One page of a topic's members, as [`Hub::presence`] answers it.
#[derive(Debug, Clone, Default)]
pub struct PresencePage {
    /// Members in address order, each with its identity's `info`.
    pub members: Vec<(String, Option<Arc<RawValue>>)>,
    /// When more follow: the `after` that asks for the next page.
    pub next: Option<String>,
    /// How many members the topic has (on this node; on every node with
    /// the Redis engine).
    pub total: usize,
}

impl Hub {
    /// Up to `limit` (capped at 1000) members of `topic` after the address
    /// `after`, in address order.
    ///
    /// # Errors
    /// `InvalidName`, `UnknownNamespace`, or `PresenceDisabled` when the
    /// topic's namespace does not track presence.
    pub async fn presence(
        &self,
        topic: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<PresencePage, HubError> {
        self.tracked(topic)?;
        let query = PresenceQuery::Page {
            after: after.map(Arc::from),
            limit: limit.clamp(1, crate::protocol::presence::PRESENCE_PAGE_MAX),
        };
        let read = self.read_presence(topic, query).await?;
        Ok(PresencePage {
            members: read
                .members
                .into_iter()
                .map(|(address, info)| (address.to_string(), info))
                .collect(),
            next: read.next.map(|n| n.to_string()),
            total: read.total,
        })
    }

    /// How many members `topic` has (on this node; on every node with the
    /// Redis engine).
    ///
    /// # Errors
    /// As [`Hub::presence`].
    pub async fn presence_stats(&self, topic: &str) -> Result<usize, HubError> {
        self.tracked(topic)?;
        let read = self.read_presence(topic, PresenceQuery::Count).await?;
        Ok(read.total)
    }

    /// Whether `address` is online: held, or within its offline grace.
    ///
    /// # Errors
    /// `InvalidName`; `Unavailable` when the Redis engine's directory could
    /// not be asked; `Internal` when the registry has stopped.
    pub async fn online(&self, address: &str) -> Result<bool, HubError> {
        self.node.router.check_name("address", address)?;
        self.node
            .registry
            .send(IsOnline {
                address: address.into(),
            })
            .await
            .map_err(|_| HubError::Internal("the registry stopped"))?
    }

    /// The live connections of `user` in the hub — its own address, if a
    /// session holds it, and each of its devices (`user/device`) — in
    /// address order, each with the id of the node that holds it
    /// ([`Hub::node_id`] of that node).
    ///
    /// # Errors
    /// `InvalidName`; `Unavailable` when the Redis engine's directory could
    /// not be asked; `Internal` when the registry has stopped.
    pub async fn connections(&self, user: &str) -> Result<Vec<(String, String)>, HubError> {
        self.node.router.check_name("user", user)?;
        let held = self
            .node
            .registry
            .send(ConnectionsOf { user: user.into() })
            .await
            .map_err(|_| HubError::Internal("the registry stopped"))??;
        let mut held: Vec<(String, String)> = held
            .into_iter()
            .map(|(address, node)| (address.to_string(), node.to_string()))
            .collect();
        held.sort_unstable();
        Ok(held)
    }

    fn tracked(&self, topic: &str) -> Result<(), HubError> {
        self.node.router.check_name("topic", topic)?;
        let namespace = crate::permissions::Permissions::namespace_of(topic);
        match self.node.permissions.options_of(topic) {
            None => Err(HubError::UnknownNamespace(namespace.to_owned())),
            Some(options) if !options.track_presence => {
                Err(HubError::PresenceDisabled(topic.to_owned()))
            }
            Some(_) => Ok(()),
        }
    }

    async fn read_presence(
        &self,
        topic: &str,
        query: PresenceQuery,
    ) -> Result<PresenceRead, HubError> {
        self.node.presence.read(topic, query, None).await
    }
}
