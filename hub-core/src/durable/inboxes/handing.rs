//! The inbox actor's side toward sessions: attaching and detaching them,
//! handing messages over in `seq` order within the window (see
//! [`Delivery`]), reading back what could not be handed over in line, and
//! the acks that open the window again.

use super::*;

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct ReadDone {
    address: Arc<str>,
    session: SessionId,
    result: Result<Vec<StoredMessage>, StoreError>,
}

impl Inboxes {
    /// Hands `address`'s next messages to its session, from the store,
    /// while the window allows.
    pub(super) fn fill(&mut self, address: &Arc<str>, ctx: &mut Context<Self>) {
        let Some(inbox) = self.inboxes.get_mut(address) else {
            return;
        };
        let committed_last = inbox.state.last_seq;
        let Some(attached) = inbox.attached.as_mut() else {
            return;
        };
        let Some(read) = attached.delivery.begin_read(committed_last) else {
            return;
        };
        let session = attached.handle.id;
        let me = ctx.address();
        let address = address.clone();
        let job = Job::Read {
            address: address.clone(),
            after: read.after,
            max: read.max,
            done: Box::new(move |result| {
                me.do_send(ReadDone {
                    address,
                    session,
                    result,
                })
            }),
        };
        self.writer.submit(job);
    }

    /// Hands one message to the attached session if it is next in line and
    /// the window has room; returns whether it did.
    pub(super) fn hand_over(&mut self, address: &Arc<str>, seq: u64, frame: &ByteString) -> bool {
        let Some(inbox) = self.inboxes.get_mut(address) else {
            return false;
        };
        let Some(attached) = inbox.attached.as_mut() else {
            return false;
        };
        if !attached.delivery.is_next(seq) {
            return false;
        }
        match attached.handle.push(frame.clone()) {
            Pushed::Accepted => {
                Metrics::inc(&self.metrics.deliveries_total);
                if let Handed::Taken(upto) = attached.delivery.handed(seq) {
                    inbox.acked = upto;
                    self.batch.acks.push((address.clone(), upto));
                }
                true
            }
            // Slow: being cut off; gone: closing. Either way it stays stored.
            Pushed::Slow | Pushed::Gone => false,
        }
    }
}

impl Handler<Attach> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: Attach, ctx: &mut Self::Context) {
        let now = Self::now_ms();
        let ttl = self.limits.ttl.as_millis() as u64;
        let inbox = self
            .inboxes
            .entry(msg.address.clone())
            .or_insert_with(|| Inbox::new(InboxState::default()));
        inbox.attached = Some(Attached {
            handle: msg.handle,
            // Everything not acknowledged is handed out again.
            delivery: Delivery::from(msg.acks, self.limits.window, inbox.acked),
        });
        self.batch.seen.push((msg.address.clone(), now));
        if inbox.state.count > 0 && inbox.state.first_at_ms + ttl < now {
            self.batch
                .expire
                .push((msg.address.clone(), now.saturating_sub(ttl)));
        }
        self.commit(ctx);
        self.fill(&msg.address, ctx);
    }
}

impl Handler<Detach> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: Detach, ctx: &mut Self::Context) {
        let Some(inbox) = self.inboxes.get_mut(&msg.address) else {
            return;
        };
        if inbox
            .attached
            .as_ref()
            .is_some_and(|a| a.handle.id == msg.session)
        {
            inbox.attached = None;
            self.batch.seen.push((msg.address, Self::now_ms()));
            self.commit(ctx);
        }
    }
}

impl Handler<Ack> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: Ack, ctx: &mut Self::Context) {
        let Some(inbox) = self.inboxes.get_mut(&msg.address) else {
            return;
        };
        let Some(attached) = inbox.attached.as_mut() else {
            return;
        };
        if attached.handle.id != msg.session {
            return;
        }
        let Some(upto) = attached.delivery.ack(msg.seq) else {
            return;
        };
        inbox.acked = inbox.acked.max(upto);
        self.batch.acks.push((msg.address.clone(), upto));
        self.commit(ctx);
        self.fill(&msg.address, ctx);
    }
}

impl Handler<ReadDone> for Inboxes {
    type Result = ();

    fn handle(&mut self, msg: ReadDone, ctx: &mut Self::Context) {
        let ttl = self.limits.ttl.as_millis() as u64;
        let now = Self::now_ms();
        let Some(inbox) = self.inboxes.get_mut(&msg.address) else {
            return;
        };
        match inbox.attached.as_mut() {
            Some(a) if a.handle.id == msg.session => a.delivery.read_ended(),
            _ => return,
        }
        let messages = match msg.result {
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(error = %e, address = %msg.address, "store read failed");
                return;
            }
        };
        let mut expired_upto = None;
        for message in messages {
            // Past its TTL: not handed out; the sweep deletes it. A gap (a
            // failed commit's numbers) is never filled: stepped over.
            let expired = message.stored_at_ms + ttl < now;
            if expired {
                expired_upto = Some(message.seq);
            }
            if let Some(a) = self
                .inboxes
                .get_mut(&msg.address)
                .and_then(|i| i.attached.as_mut())
            {
                a.delivery.passed_to(message.seq, expired);
            }
            if !expired && !self.hand_over(&msg.address, message.seq, &message.frame) {
                break;
            }
        }
        if expired_upto.is_some() {
            self.batch
                .expire
                .push((msg.address.clone(), now.saturating_sub(ttl)));
        }
        // What a client without acks took is deleted in the next commit, at
        // once: waiting for another send's commit (or the sweep) would hand
        // it over again after a crash meanwhile, and hold its receipt back.
        self.commit(ctx);
        self.fill(&msg.address, ctx);
    }
}
