//! [`Occupancy`] for every node of the hub, in Redis: which nodes have
//! subscribers of each topic (`scripts/occupancy.lua`), so that a topic's
//! first subscriber in the hub and its last are each told once — by the
//! node whose change decided it. A node that dies keeps its topics until
//! its claim runs out (half of `registration_ttl_ms`, renewed every
//! `ttl_sweep_interval_ms` while it lives); then the node whose sweep finds
//! it tells those it was the last to hold. The same claims tell the
//! address directory which nodes are gone (`directory_lost.rs`).
//!
//! Every key is under one hash tag (one slot of a cluster): a change is
//! one atomic script. Changes are few (a topic's first and last subscriber
//! on a node), in order, through one task; one Redis did not take is
//! written again, after a pause.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{Client, Value};
use fred::types::scripts::Script;
use tokio::sync::mpsc;

use super::scripted::{self, Call};
use super::RedisEngine;
use crate::lifecycle::{Lifecycle, LifecycleSink};
use crate::seams::occupancy::Occupancy;

/// Changes waiting for Redis, at most; past it one is dropped (warned once).
const CAPACITY: usize = 65_536;

/// Changes written in one pipeline, at most.
const BATCH: usize = 256;

/// Topics a sweep ends at most per call.
const SWEEP_TOPICS: usize = 1_024;

/// Wait before writing again what Redis did not take.
const RETRY: Duration = Duration::from_millis(500);

/// See the module docs.
pub(crate) struct RedisOccupancy {
    changes: mpsc::Sender<(Arc<str>, bool)>,
    /// A full queue was warned of.
    told_full: AtomicBool,
}

impl Occupancy for RedisOccupancy {
    fn changed(&self, topic: &Arc<str>, occupied: bool) {
        if self.changes.try_send((topic.clone(), occupied)).is_err()
            && !self.told_full.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "topic occupancy changes wait for Redis past {CAPACITY}: some are dropped"
            );
        }
    }
}

/// What the task needs.
struct Task {
    client: Client,
    script: Script,
    /// The hash tag every key is under.
    tag: String,
    /// The nodes' claims.
    nodes: String,
    node: String,
    sink: Arc<dyn LifecycleSink>,
    ttl: Duration,
}

impl RedisEngine {
    /// Topic occupancy for the hub, told to `sink`; this node's claim lasts
    /// `ttl`, renewed (and others' swept) every `sweep`.
    pub(crate) fn occupancy(
        &self,
        sink: Arc<dyn LifecycleSink>,
        ttl: Duration,
        sweep: Duration,
    ) -> Arc<dyn Occupancy> {
        let (changes, waiting) = mpsc::channel(CAPACITY);
        let task = Task {
            client: self.publisher.clone(),
            script: Script::from_lua(include_str!("scripts/occupancy.lua")),
            nodes: self.keys.node_claims_name(),
            tag: self.keys.occupancy_tag.clone(),
            node: self.node.to_string(),
            sink,
            ttl,
        };
        actix_rt::spawn(task.run(waiting, sweep));
        Arc::new(RedisOccupancy {
            changes,
            told_full: AtomicBool::new(false),
        })
    }
}

impl Task {
    async fn run(self, mut waiting: mpsc::Receiver<(Arc<str>, bool)>, sweep: Duration) {
        let mut pending: VecDeque<(Arc<str>, bool)> = VecDeque::new();
        let mut batch = Vec::with_capacity(BATCH);
        let mut tick = tokio::time::interval(sweep);
        loop {
            tokio::select! {
                n = waiting.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        return;
                    }
                    pending.extend(batch.drain(..));
                }
                _ = tick.tick() => self.renew_and_sweep().await,
            }
            while !pending.is_empty() {
                if !self.write(&mut pending).await {
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    fn call(&self, op: &str, more: &[Value]) -> Call {
        let mut args: Vec<Value> = vec![
            self.tag.as_str().into(),
            self.node.as_str().into(),
            op.into(),
        ];
        args.extend(more.iter().cloned());
        Call {
            keys: vec![self.nodes.clone()],
            args,
        }
    }

    /// Writes the oldest pending changes; tells what they decided. Whether
    /// Redis took them (those it took are gone from `pending`).
    async fn write(&self, pending: &mut VecDeque<(Arc<str>, bool)>) -> bool {
        let ttl = Value::from(self.ttl.as_millis() as i64);
        let calls: Vec<Call> = pending
            .iter()
            .take(BATCH)
            .map(|(topic, occupied)| match occupied {
                true => self.call("join", &[(**topic).into(), ttl.clone()]),
                false => self.call("leave", &[(**topic).into()]),
            })
            .collect();
        let refs: Vec<&Call> = calls.iter().collect();
        for answer in scripted::in_order(&self.client, &self.script, &refs).await {
            let Ok(decided) = answer else {
                return false;
            };
            let Some((topic, occupied)) = pending.pop_front() else {
                break;
            };
            if decided.as_i64() == Some(1) {
                self.sink.tell(if occupied {
                    Lifecycle::Occupied { topic }
                } else {
                    Lifecycle::Vacated { topic }
                });
            }
        }
        true
    }

    /// Keeps this node's claim, and ends the topics of nodes whose claim
    /// ran out.
    async fn renew_and_sweep(&self) {
        let renew = self.call("renew", &[(self.ttl.as_millis() as i64).into()]);
        let sweep = self.call("sweep", &[(SWEEP_TOPICS as i64).into()]);
        let answers = scripted::in_order(&self.client, &self.script, &[&renew, &sweep]).await;
        let Some(Ok(vacated)) = answers.into_iter().nth(1) else {
            return;
        };
        for topic in vacated.into_array() {
            if let Some(topic) = topic.as_string() {
                self.sink.tell(Lifecycle::Vacated {
                    topic: topic.into(),
                });
            }
        }
    }
}
