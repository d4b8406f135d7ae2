//! Direct messages across nodes: a send to an address no holder on this node
//! has goes to the node that holds it, which delivers it as a local send and
//! answers with the outcome.
//!
//! One script finds the holder's node and publishes the message on that
//! node's channel in one step (`-1`: no one holds the address). The other
//! node delivers it through its router and publishes `outcome <request>
//! <status>` on the sender's node channel, where the waiting send is
//! answered. Sends leave in the order they were made, through one task,
//! so two sends from one session to one recipient arrive in order.
//!
//! A message stored in its recipient's inbox (`ledger`) goes the same way
//! as `stored {...}`: the holder's node hands it over if its session is next
//! in line (`accepted`) or leaves it stored (`queued`); without a holder or
//! an answer it stays stored. A send to a user also reaches the nodes of
//! its device connections (`users.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use fred::prelude::{Client, ClientLike, Key, PubsubInterface, Value};
use fred::types::scripts::Script;
use fred::types::{ClusterHash, CustomCommand};
use futures_util::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};

use super::directory::Keys;

mod census;
mod disconnect;
mod everyone;
mod sending;
mod told;
mod users;
use crate::durable::ledger::Wake;
use crate::error::HubError;
use crate::protocol::{Correlation, DeliveryStatus, ErrorCode};
use crate::seams::broker::LocalRouter;
use crate::seams::{Answer, NodeId};
pub(super) use told::Reserved;
use users::Scope;

/// Jobs written to Redis in one pipeline, at most.
const MAX_BATCH: usize = 256;

/// A direct message on its way to another node.
#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    /// The sender's node (hex), where the outcome goes.
    node: &'a str,
    /// The sender's node's number for this send.
    req: u64,
    // Names and ids may hold characters JSON escapes: borrowed when they
    // do not, owned when they do.
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    in_reply_to: Option<Cow<'a, str>>,
    /// The sender waits for the outcome (false: fire-and-forget).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    outcome: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

/// A stored message's `seq` and frame on their way to its holder's node.
#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    node: &'a str,
    req: u64,
    #[serde(borrow)]
    to: Cow<'a, str>,
    /// The dedupe key of the send's `msg_id` and the value recording it
    /// `accepted`: set by the holder's node once its session took the
    /// message, before it answers (see `told.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    settle: Option<(Cow<'a, str>, Cow<'a, str>)>,
    seq: u64,
    #[serde(borrow)]
    frame: &'a RawValue,
}

/// Where this node takes stored messages for its sessions.
pub(crate) type LocalStored = Arc<dyn Fn(Wake) + Send + Sync>;

/// A `"*"` broadcast on its way to every other node.
#[derive(Serialize, Deserialize)]
struct ToEveryone<'a> {
    /// The sender's node (hex), where each node's count goes.
    node: &'a str,
    req: u64,
    #[serde(borrow)]
    from: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
}

enum Job {
    /// Publish a `"*"` broadcast to every node.
    Everyone { message: String, req: u64 },
    /// Find `to`'s node (and, for a user, its connections' nodes) and
    /// publish `message` there (`deliver.lua`).
    Send {
        /// The directory shard of the recipient.
        shard: usize,
        /// The recipient's holding key.
        holding: String,
        /// The hash of the device connections of the user `to` names.
        connections: String,
        /// Which nodes: `to`'s holder's, and its user's devices'?
        scope: Scope,
        /// A node left out (this one, which delivered its own part).
        skip: Option<NodeId>,
        message: String,
        req: u64,
        /// The other node answers with the outcome.
        outcome: bool,
        /// A stored message: without a holder it is `queued`, not lost.
        stored: bool,
    },
    /// Publish an outcome to a sender's node.
    Reply { channel: String, message: String },
    /// Record a `msg_id`'s status (`message`) in its dedupe key, for its
    /// retries, before the outcome goes back (see `told.rs`).
    Settle { key: String, message: String },
}

type Waiting = oneshot::Sender<Result<DeliveryStatus, HubError>>;

/// See the module docs.
pub(super) struct Direct {
    node: NodeId,
    keys: Arc<Keys>,
    jobs: mpsc::UnboundedSender<Job>,
    /// Bytes in `jobs`, bounded by `max_queued`.
    queued: AtomicUsize,
    max_queued: usize,
    next_req: AtomicU64,
    /// Replies sent: each goes out on the next shard's node channel.
    replies: AtomicUsize,
    /// Sends (and answers of every node) waiting for another node, at most;
    /// past it a send is refused `unavailable` rather than remembered
    /// without bound (`redis_max_pending_sends`).
    max_pending: usize,
    pending: Mutex<HashMap<u64, (Arc<str>, Waiting)>>,
    wait: Duration,
    /// This node's router, for messages, `"*"` broadcasts and disconnects
    /// other nodes send here.
    local: OnceLock<LocalRouter>,
    /// This node's stored inboxes, for stored messages other nodes send here.
    local_stored: OnceLock<LocalStored>,
    /// Questions asked of every node (and `"*"` broadcasts), their answers
    /// coming in.
    censuses: Mutex<HashMap<u64, census::Census>>,
    /// Stored messages the ledger told their holders of (`told.rs`).
    filed: Mutex<told::Filed>,
}

impl Direct {
    /// Starts the sending task on the current runtime.
    pub(super) fn start(
        client: Client,
        node: NodeId,
        keys: Arc<Keys>,
        max_queued: usize,
        max_pending: usize,
        wait: Duration,
    ) -> Arc<Self> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let direct = Arc::new(Self {
            node,
            keys,
            jobs,
            queued: AtomicUsize::new(0),
            max_queued,
            next_req: AtomicU64::new(1),
            replies: AtomicUsize::new(0),
            max_pending,
            pending: Mutex::new(HashMap::new()),
            wait,
            local: OnceLock::new(),
            local_stored: OnceLock::new(),
            censuses: Mutex::new(HashMap::new()),
            filed: Mutex::default(),
        });
        actix_rt::spawn(direct.clone().run(client, rx));
        direct
    }

    pub(super) fn attach(&self, local: LocalRouter) {
        let _ = self.local.set(local);
    }

    /// Where stored messages for this node's sessions go.
    pub(super) fn attach_stored(&self, stored: LocalStored) {
        let _ = self.local_stored.set(stored);
    }

    /// Publishes `message` on the channel of the node named `origin` (its
    /// id in hex, as it named itself). A full queue loses it; the waiting
    /// sender times out.
    fn reply(&self, origin: &str, message: String) {
        let Ok(origin) = u64::from_str_radix(origin, 16) else {
            return;
        };
        let size = message.len();
        // Any shard's channel reaches the node: taken in turn.
        let shards = self.keys.shards();
        let turn = self.replies.fetch_add(1, Ordering::Relaxed) % shards.len();
        let channel = shards[turn].node_channel(NodeId(origin));
        self.enqueue(Job::Reply { channel, message }, size);
    }

    fn enqueue(&self, job: Job, size: usize) -> bool {
        if self.queued.fetch_add(size, Ordering::AcqRel) + size > self.max_queued {
            self.queued.fetch_sub(size, Ordering::AcqRel);
            return false;
        }
        self.jobs.send(job).is_ok()
    }

    /// Sends to `to` on the node that holds it; answers with its outcome.
    pub(super) fn send(
        self: &Arc<Self>,
        from: &str,
        to: &str,
        payload: &RawValue,
        correlation: Correlation<&str>,
        outcome: bool,
    ) -> Answer<Result<(), HubError>> {
        let unavailable = || Answer::now(Err(HubError::Unavailable("the other nodes")));
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let node = self.node.to_string();
        let envelope = Envelope {
            node: &node,
            req,
            to: to.into(),
            from: from.into(),
            payload,
            correlation_id: correlation.correlation_id.map(Cow::Borrowed),
            in_reply_to: correlation.in_reply_to.map(Cow::Borrowed),
            outcome,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return unavailable();
        };
        let message = format!("deliver {json}");
        let Some(answer) = self.ask(req, to, message, (outcome, false), (Scope::User, None)) else {
            return unavailable();
        };
        Answer::Later(
            async move {
                match answer.await {
                    Some(outcome) => outcome.map(|_| ()),
                    None => Err(HubError::Unavailable(
                        "no outcome from the recipient's node",
                    )),
                }
            }
            .boxed(),
        )
    }

    /// Files request `req` for `to` and queues `message` for the nodes
    /// `scope` names. `None`: refused (too many waiting, or the queue is
    /// full). The answer's `None`: none came within the command timeout.
    fn ask(
        self: &Arc<Self>,
        req: u64,
        to: &str,
        message: String,
        (outcome, stored): (bool, bool),
        (scope, skip): (Scope, Option<NodeId>),
    ) -> Option<impl std::future::Future<Output = Option<Result<DeliveryStatus, HubError>>>> {
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.len() >= self.max_pending {
                return None;
            }
            pending.insert(req, (to.into(), tx));
        }
        let size = message.len();
        let job = self.job(to, message, (req, outcome, stored), scope, skip);
        if !self.enqueue(job, size) {
            self.forget(req);
            return None;
        }
        let (wait, this) = (self.wait, self.clone());
        Some(async move {
            match tokio::time::timeout(wait, rx).await {
                Ok(Ok(outcome)) => Some(outcome),
                _ => {
                    this.forget(req);
                    None
                }
            }
        })
    }

    /// The job that finds `to`'s node(s) (with `user`, also those of the
    /// connections of the user `to` names, unless `to` is a device's own
    /// address) and publishes `message` there, leaving out `skip`.
    fn job(
        &self,
        to: &str,
        message: String,
        (req, outcome, stored): (u64, bool, bool),
        scope: Scope,
        skip: Option<NodeId>,
    ) -> Job {
        let device = crate::protocol::user_of(to).is_some();
        Job::Send {
            shard: self.keys.shard_index(to),
            holding: self.keys.shard(to).holding_name(to),
            connections: self.keys.connections_name(to),
            scope: if device { Scope::Holder } else { scope },
            skip,
            message,
            req,
            outcome,
            stored,
        }
    }

    fn forget(&self, req: u64) -> Option<(Arc<str>, Waiting)> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&req)
    }

    fn answer(&self, req: u64, outcome: impl FnOnce(&str) -> Result<DeliveryStatus, HubError>) {
        if let Some((to, waiting)) = self.forget(req) {
            let _ = waiting.send(outcome(&to));
        }
    }

    /// A message on this node's channel: `deliver {...}` or `outcome <req> <status>`.
    /// Returns false for anything else.
    pub(super) fn on_message(self: &Arc<Self>, text: &str) -> bool {
        if let Some(json) = text.strip_prefix("deliver ") {
            self.deliver_here(json);
            return true;
        }
        if let Some(json) = text.strip_prefix("stored ") {
            self.stored_here(json);
            return true;
        }
        if let Some(json) = text.strip_prefix("disconnect ") {
            self.disconnect_here(json);
            return true;
        }
        // `counted`: a `"*"` broadcast's count from a node of the version
        // before, which named it so.
        if let Some(rest) = text
            .strip_prefix("counted ")
            .or_else(|| text.strip_prefix("censused "))
        {
            self.censused(rest);
            return true;
        }
        if let Some(rest) = text.strip_prefix("outcome ") {
            let mut parts = rest.splitn(2, ' ');
            let (Some(Ok(req)), Some(status)) = (parts.next().map(str::parse), parts.next()) else {
                return true;
            };
            self.answer(req, |to| status_to_result(status, to));
            return true;
        }
        false
    }

    /// Delivers a message another node sent here and answers it.
    fn deliver_here(&self, json: &str) {
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(json) else {
            return;
        };
        let Some(local) = self.local.get() else {
            return;
        };
        let correlation = Correlation {
            correlation_id: envelope.correlation_id.as_deref(),
            in_reply_to: envelope.in_reply_to.as_deref(),
        };
        let outcome = (local.send)(&envelope.from, &envelope.to, envelope.payload, correlation);
        if !envelope.outcome {
            return;
        }
        let status = match outcome {
            Ok(()) => "ok",
            Err(e) => e.code().as_str(),
        };
        self.reply(envelope.node, format!("outcome {} {status}", envelope.req));
    }

    /// Hands a stored message another node sent here to this node's
    /// inboxes, which answer it.
    fn stored_here(self: &Arc<Self>, json: &str) {
        let Ok(stored) = serde_json::from_str::<Stored<'_>>(json) else {
            return;
        };
        let Some(local) = self.local_stored.get() else {
            return;
        };
        let (this, origin, req) = (self.clone(), stored.node.to_owned(), stored.req);
        let settle = stored
            .settle
            .map(|(key, value)| (key.into_owned(), value.into_owned()));
        local(Wake {
            to: Arc::from(&*stored.to),
            seq: stored.seq,
            frame: stored.frame.get().into(),
            reply: Box::new(move |status| {
                let status = match status {
                    DeliveryStatus::Accepted => {
                        if let Some((key, message)) = settle {
                            let size = message.len();
                            this.enqueue(Job::Settle { key, message }, size);
                        }
                        "ok"
                    }
                    _ => "queued",
                };
                this.reply(&origin, format!("outcome {req} {status}"));
            }),
        });
    }
}

/// The outcome another node reported, as this node's send answers it.
fn status_to_result(status: &str, to: &str) -> Result<DeliveryStatus, HubError> {
    match ErrorCode::from_wire(status) {
        None if status == "ok" => Ok(DeliveryStatus::Accepted),
        None if status == "queued" => Ok(DeliveryStatus::Queued),
        Some(ErrorCode::RecipientSlow) => Err(HubError::RecipientSlow(to.to_owned())),
        Some(ErrorCode::RecipientNotFound) => Err(HubError::RecipientNotFound(to.to_owned())),
        _ => Err(HubError::Unavailable("the recipient's node")),
    }
}

#[cfg(test)]
#[path = "direct_tests.rs"]
mod tests;
