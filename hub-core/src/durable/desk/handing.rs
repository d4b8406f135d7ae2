//! The inbox desk's side toward the sessions held on this node:
//! attaching them (their starting point read from the ledger), handing stored
//! messages over in `seq` order within the window (see [`Delivery`]),
//! reading back what could not be handed over in line, deleting what was
//! acknowledged or taken, and the stored messages other nodes send here.

use super::*;

/// A session now holds `address`: read where its inbox stands. Answered
/// once that is read (or its first read failed), so the session tells its
/// client it is connected only when a send to it can be handed over at once
/// (`accepted`, not `queued` behind a read). Nothing is handed over before
/// the session's [`HandOver`].
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach {
    pub(crate) address: Arc<str>,
    pub(crate) handle: SessionHandle,
    /// The client acknowledges with `hub:ack` (feature `ack`).
    pub(crate) acks: bool,
}

/// The session holding `address` told its client it is connected: replay
/// its inbox to it from here, behind `hub:connected`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct HandOver {
    pub(crate) address: Arc<str>,
    pub(crate) session: SessionId,
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

impl InboxDesk {
    /// A stored message for a session held here: handed over if it is next
    /// in line (`accepted`), else read back in order later (`queued`).
    pub(super) fn offer(
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
    pub(super) fn hand_over(
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

    /// Reads the held session's next messages from the ledger, while the window
    /// allows and more are stored.
    pub(super) fn fill(&mut self, to: &Arc<str>, ctx: &mut Context<Self>) {
        let Some(held) = self.held.get_mut(to) else {
            return;
        };
        let Some(read) = held.delivery.begin_read(held.known_last) else {
            return;
        };
        held.reading_upto = held.known_last;
        let session = held.handle.id;
        let read = self.ledger.read(to, read.after, read.max);
        let to = to.clone();
        ctx.spawn(read.into_actor(self).map(move |result, act, ctx| {
            act.read_done(&to, session, result, ctx);
        }));
    }

    pub(super) fn read_done(
        &mut self,
        to: &Arc<str>,
        session: SessionId,
        result: Result<Vec<crate::durable::ledger::Entry>, HubError>,
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
                // The ledger is away: try again in a while.
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
            if !self.hand_over(to, entry.seq, &entry.frame, ctx) {
                // A full window waits for acks; a session that refused
                // (slow, closing) is about to detach: no read again now.
                return;
            }
        }
        self.fill(to, ctx);
    }

    /// Deletes `address`'s messages up to `upto`; fires their receipts.
    /// One deletion at a time per held address: those asked for meanwhile
    /// (a client without acks takes a whole read at once) go as one after
    /// — or, if the session is replaced or gone first, at that moment (see
    /// [`InboxDesk::deferred`]).
    pub(super) fn delete(&mut self, address: Arc<str>, upto: u64, ctx: &mut Context<Self>) {
        let mut session = None;
        if let Some(held) = self.held.get_mut(&address) {
            if held.deleting {
                held.delete_next = held.delete_next.max(upto);
                return;
            }
            held.deleting = true;
            session = Some(held.handle.id);
        }
        let deleted = self.ledger.ack(&address, upto);
        ctx.spawn(deleted.into_actor(self).map(move |result, act, ctx| {
            match result {
                Ok(receipts) => act.fire(&address, receipts, true, ctx),
                Err(e) => tracing::warn!(error = %e, %address, "an ack was not stored"),
            }
            // The session it was asked for, not one that took the address since.
            let held = act
                .held
                .get_mut(&address)
                .filter(|h| Some(h.handle.id) == session);
            if let Some(held) = held {
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

    /// The deletion `held` deferred behind the one on its way, if any: it
    /// must not go with `held` when another session takes the address (it
    /// is asked before that session's attach reads where to start, so what
    /// was acknowledged is not handed out again) or the session leaves.
    fn deferred(held: &Held) -> Option<u64> {
        (held.deleting && held.delete_next > 0).then_some(held.delete_next)
    }

    /// Stores a receipt for each sender that asked: `delivered` or `expired`.
    pub(super) fn fire(
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
            let Some((head, _)) = split_at_number(&frame, "seq") else {
                continue;
            };
            let outgoing = Outgoing {
                to: note.sender.as_str().into(),
                body: Body::Receipt {
                    seq_at: head.len(),
                    frame: frame.into(),
                },
                receipt: None,
                once: None,
                caps: self.caps().receipt(),
            };
            self.store_outgoing(outgoing, Reply::Nobody, ctx);
        }
    }

    /// Makes `address` known (or keeps it so) and reads where `session`
    /// starts: its first unacknowledged message (handed over from
    /// [`HandOver`] on).
    pub(super) fn start_attach(
        &mut self,
        address: Arc<str>,
        session: SessionId,
        ctx: &mut Context<Self>,
    ) {
        let limits = self.limits;
        let attached = self
            .ledger
            .attach(&address, limits.retention, limits.ttl, 0);
        ctx.spawn(attached.into_actor(self).map(move |result, act, ctx| {
            let Some(held) = act
                .held
                .get_mut(&address)
                .filter(|h| h.handle.id == session)
            else {
                return;
            };
            match result {
                Ok(attached) => {
                    Metrics::add(&act.metrics.inbox_expired_total, attached.expired);
                    // A message stored after the attach read the state may
                    // have been announced already.
                    held.known_last = held.known_last.max(attached.last);
                    let acked = attached.acked;
                    match std::mem::replace(&mut held.opening, Opening::Read { acked }) {
                        Opening::Reading { told: true, .. } => {
                            act.open(&address, acked, ctx);
                        }
                        Opening::Reading { answer, .. } => {
                            if let Some(answer) = answer {
                                let _ = answer.send(());
                            }
                        }
                        // Not asked twice.
                        opening @ (Opening::Read { .. } | Opening::Open) => {
                            held.opening = opening;
                        }
                    }
                    act.fire(&address, attached.receipts, false, ctx);
                }
                Err(_) => {
                    // The ledger is away: the client is told it is connected
                    // all the same; nothing is handed out until a read works.
                    if let Opening::Reading { answer, .. } = &mut held.opening {
                        if let Some(answer) = answer.take() {
                            let _ = answer.send(());
                        }
                    }
                    ctx.run_later(Duration::from_secs(1), move |act, ctx| {
                        act.start_attach(address, session, ctx);
                    });
                }
            }
        }));
    }

    /// Hands over what follows `acked` to the session holding `address`.
    fn open(&mut self, address: &Arc<str>, acked: u64, ctx: &mut Context<Self>) {
        let Some(held) = self.held.get_mut(address) else {
            return;
        };
        held.opening = Opening::Open;
        held.delivery.start_at(acked);
        self.fill(address, ctx);
    }

    /// Keeps the inboxes of every address held here known for the retention.
    pub(super) fn touch_held(&mut self, ctx: &mut Context<Self>) {
        let held: Vec<(Arc<str>, u64)> = self
            .held
            .iter()
            .filter(|(_, h)| !h.delivery.reading())
            .map(|(address, h)| (address.clone(), h.delivery.sent()))
            .collect();
        if held.is_empty() {
            return;
        }
        let limits = self.limits;
        let touched = self.ledger.touch(held, limits.retention, limits.ttl);
        ctx.spawn(touched.into_actor(self));
    }
}

impl Handler<Attach> for InboxDesk {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, msg: Attach, ctx: &mut Self::Context) -> Self::Result {
        let session = msg.handle.id;
        let deferred = self.held.get(&msg.address).and_then(Self::deferred);
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.held.insert(
            msg.address.clone(),
            Held {
                handle: msg.handle,
                delivery: Delivery::starting(msg.acks, self.limits.window),
                known_last: 0,
                reading_upto: 0,
                deleting: false,
                delete_next: 0,
                opening: Opening::Reading {
                    answer: Some(answer),
                    told: false,
                },
            },
        );
        if let Some(upto) = deferred {
            self.delete(msg.address.clone(), upto, ctx);
        }
        self.start_attach(msg.address, session, ctx);
        // Dropped unanswered (another session took the address) ends the wait too.
        Box::pin(async move {
            let _ = answered.await;
        })
    }
}

impl Handler<HandOver> for InboxDesk {
    type Result = ();

    fn handle(&mut self, msg: HandOver, ctx: &mut Self::Context) {
        let Some(held) = self
            .held
            .get_mut(&msg.address)
            .filter(|h| h.handle.id == msg.session)
        else {
            return;
        };
        match &mut held.opening {
            Opening::Read { acked } => {
                let acked = *acked;
                self.open(&msg.address, acked, ctx);
            }
            Opening::Reading { told, .. } => *told = true,
            Opening::Open => {}
        }
    }
}

impl Handler<Detach> for InboxDesk {
    type Result = ();

    fn handle(&mut self, msg: Detach, ctx: &mut Self::Context) {
        let Some(held) = self.held.get(&msg.address) else {
            return;
        };
        if held.handle.id != msg.session {
            return;
        }
        let floor = held.delivery.sent();
        let deferred = Self::deferred(held);
        self.held.remove(&msg.address);
        if let Some(upto) = deferred {
            self.delete(msg.address.clone(), upto, ctx);
        }
        // Kept for the retention from now, as when it was last seen.
        let limits = self.limits;
        let detached = self
            .ledger
            .detach(&msg.address, floor, limits.retention, limits.ttl);
        ctx.spawn(detached.into_actor(self));
    }
}

impl Handler<Ack> for InboxDesk {
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

/// The ledger is back (maybe empty, as a Redis restarted without its
/// data): keep, or make again, the inboxes held here.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct TouchHeld;

impl Message for TouchHeld {
    type Result = ();
}

impl Handler<TouchHeld> for InboxDesk {
    type Result = ();

    fn handle(&mut self, _: TouchHeld, ctx: &mut Self::Context) {
        self.touch_held(ctx);
    }
}

/// A stored message another node sent for a session held here.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) struct Woken(pub(crate) Wake);

impl Message for Woken {
    type Result = ();
}

impl Handler<Woken> for InboxDesk {
    type Result = ();

    fn handle(&mut self, Woken(wake): Woken, ctx: &mut Self::Context) {
        let status = self.offer(&wake.to, wake.seq, wake.frame, ctx);
        (wake.reply)(status);
    }
}
