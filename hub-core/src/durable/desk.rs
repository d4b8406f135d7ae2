//! [`InboxDesk`]: the inbox actor, one per node, over the engine's
//! [`InboxLedger`] — one node's (`node_ledger`: memory or redb, group
//! commit), or the hub's in Redis, so stored messages outlive the node that
//! stored them and reach their recipient on whichever node it connects to
//! next. The same actor, the same hand-over, for every engine.
//!
//! A send is stored by the ledger, which
//! numbers it (`seq`), holds the caps and the `msg_id` dedupe window for the
//! whole hub, and answers only once it has it. Then the recipient's session
//! gets it: here if it is held here, else through its node
//! ([`InboxRoutes::wake`]). `accepted` means handed to the session, `queued`
//! stored for later, as on one node.
//!
//! For each address held here it keeps the session's cursor: the highest
//! `seq` handed out and the window of unacknowledged ones (a [`Delivery`]).
//! A message that is not next in line (a read under way, a full window) is
//! read back from the ledger later, in order, so nothing is handed out twice
//! or out of order. `hub:ack` deletes in the ledger; receipts fire from what
//! the deletions return.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;
use serde_json::value::RawValue;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::answers::{Answer as AnswerOf, AnswerTo, Answers, Reply};
use super::delivery::{Delivery, Handed};
use super::ledger::{
    AppendAnswer, Appended, Caps, Frame, InboxLedger, InboxRoutes, Once, ReceiptNote, Wake,
};
use super::once::fingerprint;
use super::retries::{Recent, RetryIds};
use crate::error::HubError;
use crate::message_frame::{encode_stored_message, split_at_number};
use crate::metrics::Metrics;
use crate::outbox::{Pushed, SessionHandle, SessionId};
use crate::protocol::server::{Receipt, ReceiptStatus};
use crate::protocol::{Correlation, DeliveryStatus, ServerFrame};

mod handing;
mod once;

pub(crate) use handing::{Ack, Attach, Detach};
// Only an engine with other nodes wakes the desk, or comes back empty.
#[cfg(feature = "redis")]
pub(crate) use handing::{TouchHeld, Woken};

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

/// Shutdown: commit what is gathered, close the store, answer when it is closed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown;

/// [`Append`] for a session, which takes its answer by ticket (see
/// `answers`): no channel and no future per send.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AppendFor {
    pub(crate) append: Append,
    pub(crate) answer_to: AnswerTo,
}

/// A held address's session and where it stands in its inbox.
struct Held {
    handle: SessionHandle,
    /// Where the session stands: handed out, unacknowledged, reading (the
    /// attach or a read on its way: nothing is handed over meanwhile).
    delivery: Delivery,
    /// The highest `seq` known to be stored.
    known_last: u64,
    /// `known_last` when the read on its way was asked for.
    reading_upto: u64,
    /// A deletion (an ack) is on its way to Redis.
    deleting: bool,
    /// Deletions asked for meanwhile, as one: up to this `seq`.
    delete_next: u64,
}

/// What a send or a receipt becomes before Redis numbers it.
struct Outgoing {
    to: Arc<str>,
    /// Its frame, with `0` for the `seq` at `seq_at`.
    frame: ByteString,
    seq_at: usize,
    receipt: Option<ReceiptNote>,
    /// (sender, msg_id, fingerprint) of a send with a `msg_id`.
    once: Option<(Arc<str>, Arc<str>, [u64; 2])>,
    caps: Caps,
    /// Without an inbox the send still goes to an in-process address on
    /// another node, not stored (`None` for receipts).
    unstored: Option<Append>,
}

impl Outgoing {
    /// Its frame up to the `seq`.
    fn head(&self) -> &str {
        &self.frame[..self.seq_at]
    }

    /// Its frame after the `seq`.
    fn tail(&self) -> &str {
        &self.frame[self.seq_at + 1..]
    }
}

/// See the module docs.
pub(crate) struct InboxDesk {
    pub(super) ledger: Arc<dyn InboxLedger>,
    routes: Arc<dyn InboxRoutes>,
    pub(super) limits: InboxLimits,
    metrics: Arc<Metrics>,
    held: HashMap<Arc<str>, Held>,
    /// Publish and broadcast `msg_id`s claimed from this node and not
    /// settled yet, with the retries made here meanwhile (see `once`).
    pub(super) claiming: once::Claiming,
    /// The ids this node stored or claimed, for sessions to spare a retry
    /// the rate limit (see `durable::retries`).
    pub(super) retry_ids: Arc<RetryIds>,
    /// The ids this desk put in `retry_ids`, when the ledger does not keep
    /// them there itself (`None`: it does, as one node's ledger does).
    pub(super) recent: Option<Recent>,
    /// Answers gathered this turn, and whether their sending is scheduled.
    answers: Answers,
    answering: bool,
    /// Sends the ledger will answer later, in ticket order (see `Appends`).
    appending: VecDeque<(u64, Outgoing, Reply)>,
    next_ticket: u64,
}

impl InboxDesk {
    pub(crate) fn new(
        ledger: Arc<dyn InboxLedger>,
        routes: Arc<dyn InboxRoutes>,
        limits: InboxLimits,
        metrics: Arc<Metrics>,
        retry_ids: Arc<RetryIds>,
        recent: Option<usize>,
    ) -> Self {
        Self {
            ledger,
            routes,
            limits,
            metrics,
            held: HashMap::new(),
            claiming: HashMap::new(),
            retry_ids,
            recent: recent.map(Recent::new),
            answers: Answers::default(),
            answering: false,
            appending: VecDeque::new(),
            next_ticket: 0,
        }
    }

    /// `msg_id` of `sender` took effect through this node: a retry here is
    /// spared the rate limit for the dedupe window.
    pub(super) fn remember_retry_id(&mut self, sender: &str, msg_id: &str) {
        if let Some(recent) = self.recent.as_mut() {
            recent.remember(&self.retry_ids, sender, msg_id, std::time::Instant::now());
        }
    }

    fn caps(&self) -> Caps {
        Caps {
            ttl: self.limits.ttl,
            max_messages: self.limits.max_messages,
            max_bytes: self.limits.max_bytes,
            dedupe_window: self.limits.dedupe_window,
        }
    }

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    /// Stores a send; answers `reply` once the ledger has it and the recipient's
    /// node said whether its session took it.
    fn append(&mut self, msg: Append, reply: Reply, ctx: &mut Context<Self>) {
        let frame = encode_stored_message(
            &msg.from,
            0,
            &msg.payload,
            Correlation {
                correlation_id: msg.correlation_id.as_deref(),
                in_reply_to: msg.in_reply_to.as_deref(),
            },
        );
        let Some((head, _)) = split_at_number(&frame, "seq") else {
            return Answers::one(reply, Err(HubError::Internal("a frame without its seq")));
        };
        let once = msg.msg_id.as_ref().map(|id| {
            let print = fingerprint("hub:send", &msg.to, &msg.payload);
            (msg.from.clone(), id.clone(), print)
        });
        let receipt = msg.receipt.as_ref().map(|r: &ReceiptFor| ReceiptNote {
            sender: msg.from.to_string(),
            id: r.id.clone(),
            msg_id: r.msg_id.as_deref().map(str::to_owned),
        });
        let outgoing = Outgoing {
            to: msg.to.clone(),
            seq_at: head.len(),
            frame,
            receipt,
            once,
            caps: self.caps(),
            unstored: Some(msg),
        };
        self.store_outgoing(outgoing, reply, ctx);
    }

    fn store_outgoing(&mut self, out: Outgoing, reply: Reply, ctx: &mut Context<Self>) {
        // Enqueued here, in the order the sends came: that is their `seq` order.
        let once = out.once.as_ref().map(|(sender, msg_id, print)| Once {
            sender,
            msg_id,
            fingerprint: *print,
        });
        let frame = Frame {
            head: out.head(),
            tail: out.tail(),
        };
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let answered = self.ledger.append(
            &out.to,
            frame,
            out.receipt.as_ref(),
            once.as_ref(),
            out.caps,
            ticket,
        );
        match answered {
            Some(answer) => self.appended(out, answer, reply, ctx),
            None => self.appending.push_back((ticket, out, reply)),
        }
    }

    /// What the ledger said of a send: hand it over, pass it on, or answer.
    fn appended(
        &mut self,
        out: Outgoing,
        result: AppendAnswer,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let (appended, expired, receipts) = match result {
            Ok(answer) => answer,
            Err(e) => return self.answer(reply, Err(e), ctx),
        };
        Metrics::add(&self.metrics.inbox_expired_total, expired);
        self.fire(&out.to, receipts, false, ctx);
        let id = || {
            out.once
                .as_ref()
                .map_or_else(String::new, |o| o.1.to_string())
        };
        match appended {
            Appended::Stored(seq, frame) => {
                Metrics::inc(&self.metrics.inbox_stored_total);
                let frame =
                    frame.unwrap_or_else(|| format!("{}{seq}{}", out.head(), out.tail()).into());
                self.deliver(out, seq, frame, reply, ctx);
            }
            Appended::Again(status) => self.answer(reply, Ok(status), ctx),
            Appended::Conflict => {
                self.answer(reply, Err(HubError::IdempotencyConflict(id())), ctx);
            }
            Appended::Full => {
                let full = HubError::RecipientQueueFull(out.to.to_string());
                self.answer(reply, Err(full), ctx);
            }
            Appended::Unknown => match out.unstored {
                // No inbox in the hub: maybe an address an application
                // hosts in-process on another node; sent there unstored.
                Some(msg) => {
                    let answer = self.routes.send_unstored(
                        &msg.from,
                        &msg.to,
                        &msg.payload,
                        Correlation {
                            correlation_id: msg.correlation_id.as_deref(),
                            in_reply_to: msg.in_reply_to.as_deref(),
                        },
                    );
                    let answered = async move { answer.await.map(|()| DeliveryStatus::Accepted) };
                    ctx.spawn(
                        answered
                            .into_actor(self)
                            .map(move |answer, _, _| Answers::one(reply, answer)),
                    );
                }
                None => {
                    let unknown = HubError::RecipientNotFound(out.to.to_string());
                    self.answer(reply, Err(unknown), ctx);
                }
            },
        }
    }

    /// Hands stored message `seq` to its recipient: here, or through the
    /// node that holds it; then answers and records the status for retries.
    fn deliver(
        &mut self,
        out: Outgoing,
        seq: u64,
        frame: ByteString,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let mut status: BoxFuture<'static, _> = if self.held.contains_key(&out.to) {
            let status = self.offer(&out.to, seq, frame, ctx);
            std::future::ready(Ok(status)).boxed()
        } else {
            self.routes.wake(&out.to, seq, &frame)
        };
        // Known at once (held here, or no other node to ask): answered in
        // this turn, with the commit's other answers.
        if let Some(status) = (&mut status).now_or_never() {
            let settled = match (&status, &out.once) {
                (Ok(status), Some((sender, msg_id, print))) => {
                    let once = Once {
                        sender,
                        msg_id,
                        fingerprint: *print,
                    };
                    self.ledger.settle(&out.to, &once, *status)
                }
                // Nothing to record for retries.
                _ => return self.answer(reply, status, ctx),
            };
            let once = out.once.clone();
            return self.after(settled, ctx, move |act, ctx| {
                if let (Ok(_), Some((sender, msg_id, _))) = (&status, &once) {
                    act.remember_retry_id(sender, msg_id);
                }
                act.answer(reply, status, ctx);
            });
        }
        let ledger = self.ledger.clone();
        let once = out.once.clone();
        let delivered = async move {
            let status = status.await;
            if let (Ok(status), Some((sender, msg_id, print))) = (&status, &out.once) {
                let once = Once {
                    sender,
                    msg_id,
                    fingerprint: *print,
                };
                ledger.settle(&out.to, &once, *status).await;
            }
            status
        };
        ctx.spawn(delivered.into_actor(self).map(move |status, act, ctx| {
            if let (Ok(_), Some((sender, msg_id, _))) = (&status, &once) {
                act.remember_retry_id(sender, msg_id);
            }
            act.answer(reply, status, ctx);
        }));
    }

    /// Runs `then` once `done` is: at once when it already is (no task).
    fn after(
        &mut self,
        mut done: BoxFuture<'static, ()>,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, &mut Context<Self>) + 'static,
    ) {
        if (&mut done).now_or_never().is_some() {
            return then(self, ctx);
        }
        ctx.spawn(
            done.into_actor(self)
                .map(move |(), act, ctx| then(act, ctx)),
        );
    }

    /// Answers a send, gathered with the other answers of this turn: one
    /// message per session however many of its sends a commit answers.
    pub(super) fn answer(&mut self, reply: Reply, answer: AnswerOf, ctx: &mut Context<Self>) {
        self.answers.add(reply, answer);
        if !self.answering {
            self.answering = true;
            ctx.notify(SendGathered);
        }
    }
}

/// What the ledger answered of sends it took for later (one commit's or
/// one pipeline's): by ticket.
#[derive(Message)]
#[rtype(result = "()")]
struct Appends(Vec<(u64, AppendAnswer)>);

impl Handler<Appends> for InboxDesk {
    type Result = ();

    fn handle(&mut self, Appends(done): Appends, ctx: &mut Self::Context) {
        for (ticket, answer) in done {
            // Ledgers answer in the order of the appends: the first waiting.
            let at = match self.appending.front() {
                Some((first, ..)) if *first == ticket => Some(0),
                _ => self.appending.iter().position(|(t, ..)| *t == ticket),
            };
            if let Some((_, out, reply)) = at.and_then(|at| self.appending.remove(at)) {
                self.appended(out, answer, reply, ctx);
            }
        }
    }
}

/// Sends the answers gathered this turn.
#[derive(Message)]
#[rtype(result = "()")]
struct SendGathered;

impl Handler<SendGathered> for InboxDesk {
    type Result = ();

    fn handle(&mut self, _: SendGathered, _: &mut Self::Context) {
        self.answering = false;
        std::mem::take(&mut self.answers).send();
    }
}

impl Actor for InboxDesk {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        let me = ctx.address();
        self.ledger
            .answer_appends_to(Arc::new(move |done| me.do_send(Appends(done))));
        // Held inboxes are kept for the retention from their last touch:
        // touched often enough that they never lapse while held.
        let every =
            (self.limits.retention / 3).clamp(Duration::from_millis(100), Duration::from_secs(600));
        ctx.run_interval(every, |act, ctx| act.touch_held(ctx));
        let window = self.limits.dedupe_window;
        let sweep = (window / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        ctx.run_interval(sweep, move |act, _| {
            let now = std::time::Instant::now();
            if let Some(recent) = act.recent.as_mut() {
                recent.forget_older(&act.retry_ids, window, now);
            }
        });
        // What expired is dropped (by a ledger that does not do it itself),
        // its receipts sent.
        let shortest = self.limits.ttl.min(self.limits.retention).min(window);
        let every = (shortest / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
        ctx.run_interval(every, |act, ctx| {
            let swept = act.ledger.sweep();
            ctx.spawn(swept.into_actor(act).map(|expired, act, ctx| {
                for (to, receipts) in expired {
                    act.fire(&to, receipts, false, ctx);
                }
            }));
        });
    }
}

impl Handler<Append> for InboxDesk {
    type Result = ResponseFuture<Result<DeliveryStatus, HubError>>;

    fn handle(&mut self, msg: Append, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = Reply::awaited();
        self.append(msg, reply, ctx);
        answer
    }
}

impl Handler<AppendFor> for InboxDesk {
    type Result = ();

    fn handle(&mut self, msg: AppendFor, ctx: &mut Self::Context) {
        self.append(msg.append, Reply::Session(msg.answer_to), ctx);
    }
}

impl Handler<Shutdown> for InboxDesk {
    type Result = ResponseFuture<()>;

    /// Answered once the ledger wrote what it gathered and closed.
    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) -> Self::Result {
        self.ledger.close()
    }
}
