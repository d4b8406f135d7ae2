//! Asking every other node at once: a message on the hub-wide channel, each
//! node's answer (`censused <req> <text>`) on the asker's channel. Redis
//! says how many nodes heard it, so the asker stops waiting once each has
//! answered, or at the command timeout with the answers that came. The
//! questions of `Hub::topics` and `Hub::nodes` (`census {...}`) and the
//! counts of a `"*"` broadcast come back this way.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::{Direct, Job};
use crate::seams::census::Question;
use crate::seams::Answer;

/// A question on its way to every node.
#[derive(Serialize, Deserialize)]
struct Asked<'a> {
    /// The asking node (hex), where the answers go.
    node: &'a str,
    req: u64,
    #[serde(borrow)]
    question: &'a RawValue,
}

/// The answers to one question, coming in.
pub(super) struct Census {
    /// How many nodes will answer, once Redis has said how many heard it.
    expected: Option<usize>,
    answers: Vec<String>,
    done: Option<oneshot::Sender<Vec<String>>>,
}

impl Direct {
    /// Asks every other node `question`; the answers of those that answer
    /// within the command timeout.
    pub(in crate::redis) fn census(self: &Arc<Self>, question: &Question) -> Answer<Vec<String>> {
        let Ok(question) = serde_json::value::to_raw_value(question) else {
            return Answer::now(Vec::new());
        };
        let node = self.node.to_string();
        self.gather(|req| {
            let asked = Asked {
                node: &node,
                req,
                question: &question,
            };
            serde_json::to_string(&asked)
                .ok()
                .map(|json| format!("census {json}"))
        })
        .unwrap_or_else(|| Answer::now(Vec::new()))
    }

    /// Publishes on the hub-wide channel the message `ask` writes for a new
    /// request number, and gathers the answers (`censused <req> <text>`)
    /// of the nodes that heard it, until each has answered or the command
    /// timeout passes. `None`: refused (too many waiting, or the queue is
    /// full). A `"*"` broadcast's counts come back the same way.
    pub(super) fn gather(
        self: &Arc<Self>,
        ask: impl FnOnce(u64) -> Option<String>,
    ) -> Option<Answer<Vec<String>>> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let message = ask(req)?;
        let (done, rx) = oneshot::channel();
        {
            let mut censuses = self.censuses.lock().unwrap_or_else(|e| e.into_inner());
            if censuses.len() >= self.max_pending {
                return None;
            }
            let census = Census {
                expected: None,
                answers: Vec::new(),
                done: Some(done),
            };
            censuses.insert(req, census);
        }
        let size = message.len();
        if !self.enqueue(Job::Everyone { message, req }, size) {
            self.censuses
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&req);
            return None;
        }
        let (wait, this) = (self.wait, self.clone());
        Some(Answer::Later(
            async move {
                match tokio::time::timeout(wait, rx).await {
                    Ok(Ok(answers)) => answers,
                    // Those that answered in time.
                    _ => this
                        .censuses
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&req)
                        .map_or_else(Vec::new, |c| c.answers),
                }
            }
            .boxed(),
        ))
    }

    /// Redis said how many other nodes heard question `req` (none of them
    /// yet answered, or some already did).
    pub(super) fn census_heard(&self, req: u64, others: usize) {
        self.census_change(req, |c| c.expected = Some(others));
    }

    fn census_change(&self, req: u64, change: impl FnOnce(&mut Census)) {
        let mut censuses = self.censuses.lock().unwrap_or_else(|e| e.into_inner());
        let Some(census) = censuses.get_mut(&req) else {
            return;
        };
        change(census);
        if census.expected.is_some_and(|n| census.answers.len() >= n) {
            if let Some(mut census) = censuses.remove(&req) {
                if let Some(done) = census.done.take() {
                    let _ = done.send(census.answers);
                }
            }
        }
    }

    /// Another node's question, on the hub-wide channel: answered from
    /// this node's state, on the asker's channel.
    pub(super) fn census_here(self: &Arc<Self>, json: &str) {
        let Ok(asked) = serde_json::from_str::<Asked<'_>>(json) else {
            return;
        };
        if asked.node == self.node.to_string() {
            return;
        }
        let (Some(local), Ok(question)) = (
            self.local.get(),
            serde_json::from_str::<Question>(asked.question.get()),
        ) else {
            return;
        };
        let answer = (local.census)(question);
        let (this, origin, req) = (self.clone(), asked.node.to_owned(), asked.req);
        actix_rt::spawn(async move {
            let answer = answer.await;
            this.reply(&origin, format!("censused {req} {answer}"));
        });
    }

    /// `censused <req> <json>` on this node's channel: one node's answer.
    pub(super) fn censused(&self, rest: &str) {
        let Some((req, answer)) = rest.split_once(' ') else {
            return;
        };
        let Ok(req) = req.parse::<u64>() else {
            return;
        };
        let answer = answer.to_owned();
        self.census_change(req, |c| c.answers.push(answer));
    }
}
