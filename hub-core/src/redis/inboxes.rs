//! The inbox actor of a node on the Redis engine: stored direct messages
//! live in Redis (`inbox_store`), so they outlive the node that stored them
//! and reach their recipient on whichever node it connects to next.
//!
//! It takes the same messages as the one-node inbox actor
//! ([`crate::durable::inboxes`]): a send is stored by a script that numbers
//! it (`seq`), holds the caps and the `msg_id` dedupe window for the whole
//! hub, and answers only once Redis has it. Then the recipient's session
//! gets it: here if it is held here, else through its node (`direct`'s
//! `stored` message). `accepted` means handed to the session, `queued`
//! stored for later, as on one node.
//!
//! For each address held here it keeps the session's cursor: the highest
//! `seq` handed out and the window of unacknowledged ones. A message that
//! is not next in line (a read from Redis under way, a full window) is read
//! back from the stream later, in order, so nothing is handed out twice or
//! out of order. `hub:ack` deletes in Redis; receipts fire from what the
//! deletions return.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use bytestring::ByteString;

use super::direct::{Direct, Wake};
use super::inbox_store::{Appended, Caps, Frame, InboxStore, Once, ReceiptNote};
use crate::durable::answers::{Answers, Reply};
use crate::durable::delivery::{Delivery, Handed};
use crate::durable::inboxes::{
    Ack, Append, AppendFor, Attach, Detach, InboxLimits, ReceiptFor, Shutdown,
};
use crate::durable::once::fingerprint;
use crate::durable::retries::{Recent, RetryIds};
use crate::error::HubError;
use crate::message_frame::{encode_stored_message, split_at_number};
use crate::metrics::Metrics;
use crate::outbox::{Pushed, SessionHandle, SessionId};
use crate::protocol::server::{Receipt, ReceiptStatus};
use crate::protocol::{Correlation, DeliveryStatus, ServerFrame};
use crate::seams::Answer;

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
    head: String,
    tail: String,
    receipt: Option<ReceiptNote>,
    /// (sender, msg_id, fingerprint) of a send with a `msg_id`.
    once: Option<(Arc<str>, Arc<str>, [u64; 2])>,
    caps: Caps,
    /// Without an inbox the send still goes to an in-process address on
    /// another node, not stored (`None` for receipts).
    unstored: Option<Append>,
}

/// See the module docs.
pub(crate) struct RedisInboxes {
    pub(super) store: Arc<InboxStore>,
    direct: Arc<Direct>,
    pub(super) limits: InboxLimits,
    metrics: Arc<Metrics>,
    held: HashMap<Arc<str>, Held>,
    /// Publish and broadcast `msg_id`s claimed from this node and not
    /// settled yet, with the retries made here meanwhile (see `once`).
    pub(super) claiming: super::once::Claiming,
    /// The ids this node stored or claimed, for sessions to spare a retry
    /// the rate limit (see `durable::retries`).
    pub(super) retry_ids: Arc<RetryIds>,
    pub(super) recent: Recent,
}

impl RedisInboxes {
    pub(super) fn new(
        store: InboxStore,
        direct: Arc<Direct>,
        limits: InboxLimits,
        metrics: Arc<Metrics>,
        retry_ids: Arc<RetryIds>,
    ) -> Self {
        Self {
            store: Arc::new(store),
            direct,
            limits,
            metrics,
            held: HashMap::new(),
            claiming: HashMap::new(),
            retry_ids,
            recent: Recent::default(),
        }
    }

    /// `msg_id` of `sender` took effect through this node: a retry here is
    /// spared the rate limit for the dedupe window.
    pub(super) fn remember_retry_id(&mut self, sender: &str, msg_id: &str) {
        self.recent
            .remember(&self.retry_ids, sender, msg_id, std::time::Instant::now());
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

    /// Stores a send; answers `reply` once Redis has it and the recipient's
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
        let Some((head, tail)) = split_at_number(&frame, "seq") else {
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
            head: head.to_owned(),
            tail: tail.to_owned(),
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
            head: &out.head,
            tail: &out.tail,
        };
        let appending = self.store.append(
            &out.to,
            frame,
            out.receipt.as_ref(),
            once.as_ref(),
            out.caps,
        );
        let stored = async move {
            let result = appending.await;
            (out, result)
        };
        ctx.spawn(
            stored
                .into_actor(self)
                .map(move |(out, result), act, ctx| act.appended(out, result, reply, ctx)),
        );
    }

    /// What Redis said of a send: hand it over, pass it on, or answer.
    fn appended(
        &mut self,
        out: Outgoing,
        result: Result<(Appended, Vec<ReceiptNote>), HubError>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let (appended, expired) = match result {
            Ok(answer) => answer,
            Err(e) => return Answers::one(reply, Err(e)),
        };
        self.fire(&out.to, expired, false, ctx);
        let id = || {
            out.once
                .as_ref()
                .map_or_else(String::new, |o| o.1.to_string())
        };
        match appended {
            Appended::Stored(seq) => {
                Metrics::inc(&self.metrics.inbox_stored_total);
                let frame = format!("{}{seq}{}", out.head, out.tail);
                self.deliver(out, seq, frame, reply, ctx);
            }
            Appended::Again(status) => Answers::one(reply, Ok(status)),
            Appended::Conflict => Answers::one(reply, Err(HubError::IdempotencyConflict(id()))),
            Appended::Full => {
                Answers::one(reply, Err(HubError::RecipientQueueFull(out.to.to_string())))
            }
            Appended::Unknown => match out.unstored {
                // No inbox in the hub: maybe an address an application
                // hosts in-process on another node; sent there unstored.
                Some(msg) => {
                    let answer = self.direct.send(
                        &msg.from,
                        &msg.to,
                        &msg.payload,
                        Correlation {
                            correlation_id: msg.correlation_id.as_deref(),
                            in_reply_to: msg.in_reply_to.as_deref(),
                        },
                        true,
                    );
                    let answered = async move { answer.await.map(|()| DeliveryStatus::Accepted) };
                    ctx.spawn(
                        answered
                            .into_actor(self)
                            .map(move |answer, _, _| Answers::one(reply, answer)),
                    );
                }
                None => Answers::one(reply, Err(HubError::RecipientNotFound(out.to.to_string()))),
            },
        }
    }

    /// Hands stored message `seq` to its recipient: here, or through the
    /// node that holds it; then answers and records the status for retries.
    fn deliver(
        &mut self,
        out: Outgoing,
        seq: u64,
        frame: String,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
        let status = if self.held.contains_key(&out.to) {
            Answer::now(Ok(self.offer(&out.to, seq, frame.into(), ctx)))
        } else {
            self.direct.wake(&out.to, seq, &frame)
        };
        let store = self.store.clone();
        let once = out.once.clone();
        let delivered = async move {
            let status = status.await;
            if let (Ok(status), Some((sender, msg_id, print))) = (&status, &out.once) {
                let once = Once {
                    sender,
                    msg_id,
                    fingerprint: *print,
                };
                store.settle(&out.to, &once, *status).await;
            }
            status
        };
        ctx.spawn(delivered.into_actor(self).map(move |status, act, _| {
            if let (Ok(_), Some((sender, msg_id, _))) = (&status, &once) {
                act.remember_retry_id(sender, msg_id);
            }
            Answers::one(reply, status)
        }));
    }

    /// A stored message for a session held here: handed over if it is next
    /// in line (`accepted`), else read back in order later (`queued`).
    fn offer(
        &mut self,
        to: &Arc<str>,
        seq: u64,
        frame: ByteString,
        ctx: &mut Context<Self>,
    ) -> DeliveryStatus {
        let Some(held) = self.held.get_mut(to) else {
            return DeliveryStatus::Queued;
        };
        held.known_last = held.known_last.max(seq);
        if self.hand_over(to, seq, &frame, ctx) {
            DeliveryStatus::Accepted
        } else {
            self.fill(to, ctx);
            DeliveryStatus::Queued
        }
    }

    /// Hands one message to the held session if it is next in line and the
    /// window has room; returns whether it did.
    fn hand_over(
        &mut self,
        to: &Arc<str>,
        seq: u64,
        frame: &ByteString,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(held) = self.held.get_mut(to) else {
            return false;
        };
        if !held.delivery.is_next(seq) {
            return false;
        }
        match held.handle.push(frame.clone()) {
            Pushed::Accepted => {
                Metrics::inc(&self.metrics.deliveries_total);
                if let Handed::Taken(upto) = held.delivery.handed(seq) {
                    self.delete(to.clone(), upto, ctx);
                }
                true
            }
            // Slow: being cut off; gone: closing. Either way it stays stored.
            Pushed::Slow | Pushed::Gone => false,
        }
    }

    /// Reads the held session's next messages from Redis, while the window
    /// allows and more are stored.
    fn fill(&mut self, to: &Arc<str>, ctx: &mut Context<Self>) {
        let Some(held) = self.held.get_mut(to) else {
            return;
        };
        let Some(read) = held.delivery.begin_read(held.known_last) else {
            return;
        };
        held.reading_upto = held.known_last;
        let session = held.handle.id;
        let (store, address) = (self.store.clone(), to.clone());
        let read = async move { store.read(&address, read.after, read.max).await };
        let to = to.clone();
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            act.read_done(&to, session, result, ctx);
        }));
    }

    fn read_done(
        &mut self,
        to: &Arc<str>,
        session: SessionId,
        result: Result<Vec<super::inbox_store::Entry>, HubError>,
        ctx: &mut Context<Self>,
    ) {
        let ttl = self.limits.ttl.as_millis() as u64;
        let now = Self::now_ms();
        let Some(held) = self.held.get_mut(to).filter(|h| h.handle.id == session) else {
            return;
        };
        held.delivery.read_ended();
        let entries = match result {
            Ok(entries) => entries,
            Err(_) => {
                // Redis is away: try again in a while.
                let to = to.clone();
                ctx.run_later(Duration::from_secs(1), move |act, ctx| act.fill(&to, ctx));
                return;
            }
        };
        if entries.is_empty() {
            // Nothing stored past the cursor (expired or deleted meanwhile),
            // unless news of a newer message came while reading.
            if held.known_last == held.reading_upto {
                held.known_last = held.delivery.sent();
            }
            self.fill(to, ctx);
            return;
        }
        for entry in entries {
            let Some(held) = self.held.get_mut(to) else {
                return;
            };
            held.known_last = held.known_last.max(entry.seq);
            // Past its TTL: not handed out; an append or attach deletes it.
            // Gaps (expired, deleted) are stepped over.
            let expired = entry.stored_at_ms + ttl < now;
            held.delivery.passed_to(entry.seq, expired);
            if expired {
                continue;
            }
            if !self.hand_over(to, entry.seq, &entry.frame.into(), ctx) {
                // A full window waits for acks; a session that refused
                // (slow, closing) is about to detach: no read again now.
                return;
            }
        }
        self.fill(to, ctx);
    }

    /// Deletes `address`'s messages up to `upto`; fires their receipts.
    /// One deletion at a time per held address: those asked for meanwhile
    /// (a client without acks takes a whole read at once) go as one after.
    fn delete(&mut self, address: Arc<str>, upto: u64, ctx: &mut Context<Self>) {
        if let Some(held) = self.held.get_mut(&address) {
            if held.deleting {
                held.delete_next = held.delete_next.max(upto);
                return;
            }
            held.deleting = true;
        }
        let store = self.store.clone();
        let deleted = {
            let address = address.clone();
            async move { store.ack(&address, upto).await }
        };
        ctx.spawn(deleted.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(receipts) => act.fire(&address, receipts, true, ctx),
                Err(e) => tracing::warn!(error = %e, %address, "an ack was not stored"),
            }
            if let Some(held) = act.held.get_mut(&address) {
                held.deleting = false;
                if held.delete_next > upto {
                    let next = held.delete_next;
                    act.delete(address.clone(), next, ctx);
                }
            }
            // The window opened: the next messages are read only
            // now, so whoever sees them knows the acknowledged ones
            // are deleted.
            act.fill(&address, ctx);
        }));
    }

    /// Stores a receipt for each sender that asked: `delivered` or `expired`.
    fn fire(
        &mut self,
        to: &str,
        receipts: Vec<ReceiptNote>,
        delivered: bool,
        ctx: &mut Context<Self>,
    ) {
        for note in receipts {
            let id = note
                .id
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok());
            let frame = ServerFrame::Receipt(Receipt {
                id: id.map(std::borrow::Cow::Owned),
                msg_id: note.msg_id.as_deref().map(Into::into),
                to: to.into(),
                status: if delivered {
                    ReceiptStatus::Delivered
                } else {
                    ReceiptStatus::Expired
                },
                seq: Some(0),
            })
            .to_json();
            let Some((head, tail)) = split_at_number(&frame, "seq") else {
                continue;
            };
            let outgoing = Outgoing {
                to: note.sender.as_str().into(),
                head: head.to_owned(),
                tail: tail.to_owned(),
                receipt: None,
                once: None,
                caps: self.caps().receipt(),
                unstored: None,
            };
            self.store_outgoing(outgoing, Reply::Nobody, ctx);
        }
    }

    /// Makes `address` known (or keeps it so) and starts handing its inbox
    /// to `session` from the first unacknowledged message.
    fn start_attach(&mut self, address: Arc<str>, session: SessionId, ctx: &mut Context<Self>) {
        let (store, limits) = (self.store.clone(), self.limits);
        let attached = {
            let address = address.clone();
            async move {
                store
                    .attach(&address, limits.retention, limits.ttl, 0)
                    .await
            }
        };
        ctx.spawn(attached.into_actor(self).map(move |result, act, ctx| {
            let Some(held) = act
                .held
                .get_mut(&address)
                .filter(|h| h.handle.id == session)
            else {
                return;
            };
            match result {
                Ok((acked, last, expired)) => {
                    held.delivery.start_at(acked);
                    // A message stored after the attach read the state may
                    // have been announced already.
                    held.known_last = held.known_last.max(last);
                    act.fire(&address, expired, false, ctx);
                    act.fill(&address, ctx);
                }
                Err(_) => {
                    // Redis is away: try again; nothing is handed out meanwhile.
                    ctx.run_later(Duration::from_secs(1), move |act, ctx| {
                        act.start_attach(address, session, ctx);
                    });
                }
            }
        }));
    }

    /// Keeps the inboxes of every address held here known for the retention.
    fn touch_held(&mut self, ctx: &mut Context<Self>) {
        let held: Vec<(Arc<str>, u64)> = self
            .held
            .iter()
            .filter(|(_, h)| !h.delivery.reading())
            .map(|(address, h)| (address.clone(), h.delivery.sent()))
            .collect();
        if held.is_empty() {
            return;
        }
        let (store, limits) = (self.store.clone(), self.limits);
        ctx.spawn(
            async move { store.touch(held, limits.retention, limits.ttl).await }.into_actor(self),
        );
    }
}

impl Actor for RedisInboxes {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        // Held inboxes are kept for the retention from their last touch:
        // touched often enough that they never lapse while held.
        let every =
            (self.limits.retention / 3).clamp(Duration::from_millis(100), Duration::from_secs(600));
        ctx.run_interval(every, |act, ctx| act.touch_held(ctx));
        let window = self.limits.dedupe_window;
        let sweep = (window / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
        ctx.run_interval(sweep, move |act, _| {
            let now = std::time::Instant::now();
            act.recent.forget_older(&act.retry_ids, window, now);
        });
    }
}

impl Handler<Append> for RedisInboxes {
    type Result = ResponseFuture<Result<DeliveryStatus, HubError>>;

    fn handle(&mut self, msg: Append, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = Reply::awaited();
        self.append(msg, reply, ctx);
        answer
    }
}

impl Handler<AppendFor> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, msg: AppendFor, ctx: &mut Self::Context) {
        self.append(msg.append, Reply::Session(msg.answer_to), ctx);
    }
}

impl Handler<Attach> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, msg: Attach, ctx: &mut Self::Context) {
        let session = msg.handle.id;
        self.held.insert(
            msg.address.clone(),
            Held {
                handle: msg.handle,
                delivery: Delivery::starting(msg.acks, self.limits.window),
                known_last: 0,
                reading_upto: 0,
                deleting: false,
                delete_next: 0,
            },
        );
        self.start_attach(msg.address, session, ctx);
    }
}

impl Handler<Detach> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, msg: Detach, ctx: &mut Self::Context) {
        let Some(held) = self.held.get(&msg.address) else {
            return;
        };
        if held.handle.id != msg.session {
            return;
        }
        let floor = held.delivery.sent();
        self.held.remove(&msg.address);
        // Kept for the retention from now, as when it was last seen.
        let (store, limits) = (self.store.clone(), self.limits);
        let touch = vec![(msg.address, floor)];
        ctx.spawn(
            async move { store.touch(touch, limits.retention, limits.ttl).await }.into_actor(self),
        );
    }
}

impl Handler<Ack> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, msg: Ack, ctx: &mut Self::Context) {
        let Some(held) = self.held.get_mut(&msg.address) else {
            return;
        };
        if held.handle.id != msg.session {
            return;
        }
        if let Some(upto) = held.delivery.ack(msg.seq) {
            self.delete(msg.address, upto, ctx);
        }
    }
}

impl Handler<Shutdown> for RedisInboxes {
    type Result = ();

    /// Every stored message is in Redis already: nothing to write.
    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) {}
}

/// Redis is back (maybe empty): keep, or make again, the inboxes held here.
pub(super) struct TouchHeld;

impl Message for TouchHeld {
    type Result = ();
}

impl Handler<TouchHeld> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, _: TouchHeld, ctx: &mut Self::Context) {
        self.touch_held(ctx);
    }
}

/// A stored message another node sent for a session held here.
struct Woken(Wake);

impl Message for Woken {
    type Result = ();
}

impl Handler<Woken> for RedisInboxes {
    type Result = ();

    fn handle(&mut self, Woken(wake): Woken, ctx: &mut Self::Context) {
        let status = self.offer(&wake.to, wake.seq, wake.frame, ctx);
        (wake.reply)(status);
    }
}

/// Starts the actor and has `direct` hand it the stored messages other
/// nodes send here.
pub(super) fn start(inboxes: RedisInboxes) -> Addr<RedisInboxes> {
    let direct = inboxes.direct.clone();
    let addr = inboxes.start();
    let woken = addr.clone();
    direct.attach_stored(Arc::new(move |wake| woken.do_send(Woken(wake))));
    addr
}
