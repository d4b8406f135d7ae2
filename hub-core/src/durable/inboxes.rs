//! The inbox actor: one per hub, the only writer of stored direct messages.
//!
//! A send to an address becomes an [`Append`]: the actor gives it the
//! address's next `seq`, encodes its frame once, and adds it to the batch
//! being gathered. Whenever the store thread is idle the batch goes to it as
//! one commit (group commit: one fsync for every message that arrived
//! during the previous one). When the commit returns, each message is
//! handed to its recipient's session if one is attached and has taken
//! every message before it (`accepted`), or left for later (`queued`); only
//! then is the sender answered, so an answer means "stored".
//!
//! A session attaches when it connects: the inbox is replayed from the
//! first unacknowledged message, in `seq` order, before anything newer. At
//! most `inbox_window` messages are handed out unacknowledged; more follow
//! as `hub:ack`s come (cumulative). A session that did not ask for the `ack`
//! feature acknowledges by taking: each message is deleted once handed out.
//!
//! A send with a `msg_id` is remembered for `dedupe_window_ms` (stored
//! with the message, so it survives a restart): a retry with the same id,
//! target and payload is answered again without being stored twice; the
//! same id for another message is refused (`idempotency_conflict`).
//!
//! Every `sweep` the actor drops expired messages (`message_ttl_ms`),
//! forgets addresses unseen for `offline_retention_ms` and message ids
//! older than the dedupe window.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::value::RawValue;

use super::answers::{AnswerTo, Answers, Reply};
use super::delivery::{Delivery, Handed};
use super::history::HistoryWaiter;
use super::once::{fingerprint, Parked};
use super::retries::RetryIds;
use super::store::{
    Batch, Committed, Fired, InboxState, Loaded, Outcome, ReceiptTo, Remembered, StoreError,
    StoredMessage,
};
use super::writer::{Job, Writer};

mod appending;
mod handing;
use crate::error::HubError;
use crate::message_frame::encode_stored_message;
use crate::metrics::Metrics;
use crate::outbox::{Pushed, SessionHandle, SessionId};
use crate::protocol::server::DeliveryStatus;
use crate::protocol::Correlation;

/// How far every inbox's numbering skips ahead after an unclean stop: more
/// than one address can have been given in the commits that were lost.
const SEQ_SKIP_AFTER_CRASH: u64 = 1 << 20;

/// The inbox limits, from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InboxLimits {
    pub(crate) max_messages: u64,
    pub(crate) max_bytes: u64,
    pub(crate) ttl: Duration,
    pub(crate) retention: Duration,
    pub(crate) window: u64,
    /// Fsync every commit (else only every `sync_interval`).
    pub(crate) sync_every_commit: bool,
    pub(crate) sync_interval: Duration,
    pub(crate) dedupe_window: Duration,
    pub(crate) dedupe_max_per_sender: usize,
}

/// Store a direct message for `to`. Answers `accepted` or `queued` once
/// it is stored.
#[derive(Message)]
#[rtype(result = "Result<DeliveryStatus, HubError>")]
pub(crate) struct Append {
    pub(crate) from: Arc<str>,
    pub(crate) to: Arc<str>,
    pub(crate) payload: Box<RawValue>,
    pub(crate) correlation_id: Option<Arc<str>>,
    pub(crate) in_reply_to: Option<Arc<str>>,
    /// The sender's id for this message: a retry carries the same.
    pub(crate) msg_id: Option<Arc<str>>,
    /// Set when the sender asked for a receipt.
    pub(crate) receipt: Option<ReceiptFor>,
}

/// What a receipt will carry back to its sender.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptFor {
    /// The send's `id`, as JSON text.
    pub(crate) id: Option<String>,
    /// The send's `msg_id`.
    pub(crate) msg_id: Option<Arc<str>>,
}

/// A remembered message id.
pub(super) struct Memo {
    pub(super) fingerprint: [u64; 2],
    pub(super) at_ms: u64,
    /// The first answer, once known (a send's: once its commit returned).
    pub(super) outcome: Option<Outcome>,
}

/// A session now holds `address`: replay its inbox to it.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    pub(crate) address: Arc<str>,
    pub(crate) handle: SessionHandle,
    /// The client acknowledges with `hub:ack` (feature `ack`).
    pub(crate) acks: bool,
}

/// The session `session` no longer holds `address`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Detach {
    pub(crate) address: Arc<str>,
    pub(crate) session: SessionId,
}

/// `hub:ack`: the session took every message of `address` up to `seq`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Ack {
    pub(crate) address: Arc<str>,
    pub(crate) session: SessionId,
    pub(crate) seq: u64,
}

/// Shutdown: commit what is gathered, close the store, answer when it is closed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

#[derive(Message)]
#[rtype(result = "()")]
struct CommitDone(Result<Committed, StoreError>);

struct Attached {
    handle: SessionHandle,
    /// Where the session stands: handed out, unacknowledged, reading.
    delivery: Delivery,
}

/// One known address.
struct Inbox {
    /// As of the last commit.
    state: InboxState,
    /// Acknowledged, counting acks not committed yet.
    acked: u64,
    /// The next `seq` to give out.
    next_seq: u64,
    /// Appended and not committed yet.
    pending: (u64, u64),
    attached: Option<Attached>,
}

impl Inbox {
    /// (count, bytes) kept once the acknowledgements not committed yet are:
    /// acknowledged messages no longer count against the caps, though their
    /// deletion is still on its way. Their bytes are estimated at the
    /// inbox's average size.
    fn kept_after_acks(&self) -> (u64, u64) {
        let state = &self.state;
        let freed = self.acked.saturating_sub(state.acked).min(state.count);
        let freed_bytes = state.bytes.checked_div(state.count).unwrap_or(0) * freed;
        (state.count - freed, state.bytes.saturating_sub(freed_bytes))
    }

    fn new(state: InboxState) -> Self {
        Self {
            state,
            acked: state.acked,
            next_seq: state.last_seq + 1,
            pending: (0, 0),
            attached: None,
        }
    }
}

struct Waiting {
    address: Arc<str>,
    /// (sender, msg_id) when the send had an id.
    memo: Option<(Arc<str>, Arc<str>)>,
    seq: u64,
    frame: ByteString,
    size: u64,
    reply: Reply,
}

/// The inbox actor. See the module docs.
pub(crate) struct Inboxes {
    writer: Writer,
    inboxes: HashMap<Arc<str>, Inbox>,
    pub(super) batch: Batch,
    waiting: Vec<Waiting>,
    /// In the commit on its way.
    committing: Option<Vec<Waiting>>,
    /// Topic publications in the batch being gathered (see `history`).
    pub(super) history_waiting: Vec<HistoryWaiter>,
    /// Topic publications in the commit on its way.
    history_committing: Vec<HistoryWaiter>,
    limits: InboxLimits,
    metrics: Arc<Metrics>,
    /// (sender, msg_id) → what it was and how it was answered.
    pub(super) memos: HashMap<(Arc<str>, Arc<str>), Memo>,
    /// Each sender's remembered ids, oldest first (for the per-sender cap).
    memo_order: HashMap<Arc<str>, VecDeque<Arc<str>>>,
    /// The remembered ids, for sessions (see `retries`).
    pub(super) retry_ids: Arc<RetryIds>,
    /// Retries waiting for the first attempt's answer (see `once`).
    pub(super) parked: Parked,
}

impl Inboxes {
    pub(crate) fn new(
        writer: Writer,
        loaded: Loaded,
        limits: InboxLimits,
        metrics: Arc<Metrics>,
        retry_ids: Arc<RetryIds>,
    ) -> Self {
        // After an unclean stop the last commits may be gone, and their
        // numbers with them; numbers a client already took must not be
        // given out again (it would drop those messages as repeats).
        let skip = if loaded.clean {
            0
        } else {
            SEQ_SKIP_AFTER_CRASH
        };
        let inboxes = loaded
            .inboxes
            .into_iter()
            .map(|(address, state)| {
                let mut inbox = Inbox::new(state);
                inbox.next_seq += skip;
                (address, inbox)
            })
            .collect();
        let mut remembered = loaded.remembered;
        remembered.sort_unstable_by_key(|m| m.at_ms);
        let mut memos = HashMap::new();
        let mut memo_order: HashMap<Arc<str>, VecDeque<Arc<str>>> = HashMap::new();
        for m in remembered {
            retry_ids.insert(&m.sender, &m.msg_id);
            memo_order
                .entry(m.sender.clone())
                .or_default()
                .push_back(m.msg_id.clone());
            let memo = Memo {
                fingerprint: m.fingerprint,
                at_ms: m.at_ms,
                // A send's answer is not kept (its message is): `queued`.
                outcome: m.outcome.or(Some(Outcome::Sent {
                    status: DeliveryStatus::Queued,
                })),
            };
            memos.insert((m.sender, m.msg_id), memo);
        }
        Self {
            memos,
            memo_order,
            retry_ids,
            parked: Parked::default(),
            writer,
            inboxes,
            batch: Batch::default(),
            waiting: Vec::new(),
            committing: None,
            history_waiting: Vec::new(),
            history_committing: Vec::new(),
            limits,
            metrics,
        }
    }

    /// Sends the gathered batch to the store, unless a commit is on its way
    /// (this batch then goes when it returns).
    pub(super) fn commit(&mut self, ctx: &mut Context<Self>) {
        if self.committing.is_some() || self.batch.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        self.committing = Some(std::mem::take(&mut self.waiting));
        self.history_committing = std::mem::take(&mut self.history_waiting);
        let me = ctx.address();
        let job = Job::Commit {
            batch,
            sync: self.limits.sync_every_commit,
            done: Box::new(move |result| me.do_send(CommitDone(result))),
        };
        if !self.writer.submit(job) {
            ctx.notify(CommitDone(Err(StoreError(
                "the store thread stopped".into(),
            ))));
        }
    }

    pub(super) fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// Drops expired messages and forgets addresses unseen for the retention.
    fn sweep(&mut self, ctx: &mut Context<Self>) {
        let now = Self::now_ms();
        let ttl = self.limits.ttl.as_millis() as u64;
        let retention = self.limits.retention.as_millis() as u64;
        let mut forget = Vec::new();
        for (address, inbox) in &self.inboxes {
            let idle = inbox.attached.is_none() && inbox.pending.0 == 0;
            if idle && inbox.state.last_seen_ms + retention < now {
                forget.push(address.clone());
            } else if inbox.state.count > 0 && inbox.state.first_at_ms + ttl < now {
                self.batch
                    .expire
                    .push((address.clone(), now.saturating_sub(ttl)));
            }
        }
        for address in forget {
            self.inboxes.remove(&address);
            self.batch.forget.push(address);
        }
        let oldest = now.saturating_sub(self.limits.dedupe_window.as_millis() as u64);
        for (sender, ids) in &mut self.memo_order {
            while let Some(id) = ids.front() {
                let key = (sender.clone(), id.clone());
                if self.memos.get(&key).is_some_and(|m| m.at_ms >= oldest) {
                    break;
                }
                ids.pop_front();
                self.memos.remove(&key);
                self.retry_ids.remove(&key.0, &key.1);
                self.batch.unremember.push(key);
            }
        }
        self.memo_order.retain(|_, ids| !ids.is_empty());
        self.commit(ctx);
    }
}

impl Actor for Inboxes {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        let shortest = self
            .limits
            .ttl
            .min(self.limits.retention)
            .min(self.limits.dedupe_window);
        let every = (shortest / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        ctx.run_interval(every, |act, ctx| act.sweep(ctx));
        if !self.limits.sync_every_commit {
            ctx.run_interval(self.limits.sync_interval, |act, _| {
                act.writer.submit(Job::Sync);
            });
        }
    }
}

/// [`Append`] for a session, which takes its answer by ticket (see
/// `answers`): no channel and no future per send.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AppendFor {
    pub(crate) append: Append,
    pub(crate) answer_to: AnswerTo,
}

impl Handler<Shutdown> for Inboxes {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) -> Self::Result {
        let batch = std::mem::take(&mut self.batch);
        if !batch.is_empty() {
            // Behind any commit on its way; the thread runs its queue out.
            let waiting = std::mem::take(&mut self.waiting);
            let history_waiting = std::mem::take(&mut self.history_waiting);
            self.writer.submit(Job::Commit {
                batch,
                sync: true,
                done: Box::new(move |result| {
                    let mut answers = Answers::default();
                    for w in waiting {
                        let answer = match &result {
                            Ok(_) => Ok(DeliveryStatus::Queued),
                            Err(_) => Err(HubError::Internal("the store failed")),
                        };
                        answers.add(w.reply, answer);
                    }
                    answers.send();
                    for w in history_waiting {
                        w.answer(result.is_ok());
                    }
                }),
            });
        }
        let ended = self.writer.close();
        Box::pin(async move {
            if let Some(ended) = ended {
                let _ = ended.await;
            }
        })
    }
}

impl Handler<CommitDone> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: CommitDone, ctx: &mut Self::Context) {
        let waiting = self.committing.take().unwrap_or_default();
        let ok = msg.0.is_ok();
        for w in std::mem::take(&mut self.history_committing) {
            w.answer(ok);
        }
        let mut touched: Vec<Arc<str>> = waiting.iter().map(|w| w.address.clone()).collect();
        let mut answers = Answers::default();
        match msg.0 {
            Ok(committed) => {
                for (address, state) in committed.states {
                    touched.push(address.clone());
                    if let Some(inbox) = self.inboxes.get_mut(&address) {
                        inbox.state = state;
                        inbox.acked = inbox.acked.max(state.acked);
                    }
                }
                Metrics::add(&self.metrics.inbox_expired_total, committed.expired);
                for fired in committed.receipts {
                    touched.push(fired.receipt.sender.clone());
                    self.store_receipt(fired);
                }
                Metrics::add(&self.metrics.inbox_stored_total, waiting.len() as u64);
                for w in waiting {
                    if let Some(inbox) = self.inboxes.get_mut(&w.address) {
                        inbox.pending.0 -= 1;
                        inbox.pending.1 -= w.size;
                    }
                    let status = if self.hand_over(&w.address, w.seq, &w.frame) {
                        DeliveryStatus::Accepted
                    } else {
                        DeliveryStatus::Queued
                    };
                    if let Some(memo) = w.memo.as_ref().and_then(|key| self.memos.get_mut(key)) {
                        memo.outcome = Some(Outcome::Sent { status });
                    }
                    answers.add(w.reply, Ok(status));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed; its messages were refused");
                for w in waiting {
                    if let Some(inbox) = self.inboxes.get_mut(&w.address) {
                        inbox.pending.0 -= 1;
                        inbox.pending.1 -= w.size;
                    }
                    // Not stored: a retry may try again.
                    if let Some(key) = &w.memo {
                        self.memos.remove(key);
                        self.retry_ids.remove(&key.0, &key.1);
                    }
                    answers.add(w.reply, Err(HubError::Internal("the store failed")));
                }
            }
        }
        answers.send();
        // What could not be handed over in line (a window that opened, a
        // gap left by a failed commit) is read back from the store.
        touched.sort_unstable();
        touched.dedup();
        for address in &touched {
            self.fill(address, ctx);
        }
        self.commit(ctx);
    }
}
