//! What the hub's nodes hold, asked of every node at once: the topics alive
//! and their subscribers ([`Hub::topics`]), and each node's figures
//! ([`Hub::nodes`]). One node answers from its own state; with the Redis
//! engine the others are asked through the broker (a question on the
//! hub-wide channel, each node's answer on the asker's channel), and those
//! that answer within `redis_command_timeout_ms` are counted.

use std::collections::BTreeMap;

use super::Hub;
use crate::seams::census::{NodeInfo, Question, TopicInfo};

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
        answers.extend(elsewhere.await);
        answers
    }
}
