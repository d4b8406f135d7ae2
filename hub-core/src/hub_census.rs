//! What the hub's nodes hold, asked of every node at once: the topics alive
//! and their subscribers ([`Hub::topics`]), and each node's figures
//! ([`Hub::nodes`]). One node answers from its own state; with the Redis
//! engine the others are asked through the broker (a question on the
//! hub-wide channel, each node's answer on the asker's channel), and those
//! that answer within `redis_command_timeout_ms` are counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};

use super::Hub;
use crate::metrics::Metrics;
use crate::route::Router;
use crate::seams::NodeId;
use crate::topic::CountSubscribers;

/// A topic and its subscribers in the hub, as [`Hub::topics`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// The topic's name.
    pub name: String,
    /// Its subscribers on every node that answered.
    pub subscribers: usize,
}

/// One node of the hub, as [`Hub::nodes`] lists it.
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
}

/// One node's answer to a [`Question`], as JSON.
pub(crate) type Census = Arc<dyn Fn(Question) -> BoxFuture<'static, String> + Send + Sync>;

/// How this node answers a [`Question`] (for itself, and for the others).
pub(crate) fn census(
    id: NodeId,
    router: Router,
    metrics: Arc<Metrics>,
    draining: Arc<AtomicBool>,
) -> Census {
    Arc::new(move |question| match question {
        Question::Topics { prefix, limit } => {
            let topics = router.topics(&prefix, limit);
            async move {
                let counts = topics.iter().map(|(_, addr)| addr.send(CountSubscribers));
                let counts = futures_util::future::join_all(counts).await;
                let found: Vec<TopicInfo> = topics
                    .into_iter()
                    .zip(counts)
                    // A topic retired meanwhile had no subscribers left.
                    .map(|((name, _), count)| TopicInfo {
                        name: name.to_string(),
                        subscribers: count.unwrap_or(0),
                    })
                    .collect();
                serde_json::to_string(&found).unwrap_or_default()
            }
            .boxed()
        }
        Question::Node => {
            let m = metrics.snapshot();
            let info = NodeInfo {
                node_id: id.to_string(),
                draining: draining.load(Ordering::Acquire),
                connections: m.connections,
                registered: m.registered,
                topics: m.topics,
            };
            let json = serde_json::to_string(&info).unwrap_or_default();
            async move { json }.boxed()
        }
    })
}

impl Hub {
    /// Up to `limit` topics alive in the hub whose names start with
    /// `prefix`, in name order, each with its subscribers on every node
    /// (with the Redis engine: every node that answered within
    /// `redis_command_timeout_ms`). A tool's call, not a hot path: each node
    /// walks its topic names and asks the listed topics.
    pub async fn topics(&self, prefix: &str, limit: usize) -> Vec<TopicInfo> {
        let question = Question::Topics {
            prefix: prefix.to_owned(),
            limit,
        };
        let mut merged: BTreeMap<String, usize> = BTreeMap::new();
        for answer in self.ask_every_node(question).await {
            for topic in serde_json::from_str::<Vec<TopicInfo>>(&answer).unwrap_or_default() {
                *merged.entry(topic.name).or_default() += topic.subscribers;
            }
        }
        merged
            .into_iter()
            .take(limit)
            .map(|(name, subscribers)| TopicInfo { name, subscribers })
            .collect()
    }

    /// Every node of the hub with its figures, this one first (with the
    /// Redis engine: the others that answered within
    /// `redis_command_timeout_ms`).
    pub async fn nodes(&self) -> Vec<NodeInfo> {
        self.ask_every_node(Question::Node)
            .await
            .iter()
            .filter_map(|answer| serde_json::from_str(answer).ok())
            .collect()
    }

    /// This node's answer, then the others'.
    async fn ask_every_node(&self, question: Question) -> Vec<String> {
        let here = (self.node.census)(question.clone());
        let elsewhere = self.node.broker.census_elsewhere(&question);
        let mut answers = vec![here.await];
        if let Some(elsewhere) = elsewhere {
            answers.extend(elsewhere.await);
        }
        answers
    }
}
