//! Questions asked of every node of the hub at once (`Hub::topics`,
//! `Hub::nodes`): what is asked, and what each node answers. Each node
//! answers from its own state (`node.rs` builds the answerer); the broker
//! carries the question to the other nodes (`Broker::census_elsewhere`).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A topic and its subscribers in the hub, as `Hub::topics` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// Its subscribers on every node that answered.
    pub subscribers: usize,
}

/// One node of the hub, as `Hub::nodes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id (random per start).
    pub node_id: String,
    /// Whether it is draining for shutdown.
    pub draining: bool,
    /// Connections open on it.
    pub connections: u64,
    /// Addresses its sessions hold.
    pub registered: u64,
    /// Topics alive on it.
    pub topics: u64,
}

/// What one node is asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ask")]
pub(crate) enum Question {
    /// Its topics whose names start with `prefix`, at most `limit`.
    Topics { prefix: String, limit: usize },
    /// Its figures.
    Node,
    /// Keep a revocation and close the sessions it revokes; answers how
    /// many it closed.
    Revoke(crate::revocations::Revocation),
    /// Order a user's sessions to join (`subscribe`) or leave a topic;
    /// answers how many were told.
    Subscription {
        user: String,
        topic: String,
        subscribe: bool,
    },
}

/// One node's answer to a [`Question`], as JSON.
pub(crate) type Census = Arc<dyn Fn(Question) -> BoxFuture<'static, String> + Send + Sync>;
