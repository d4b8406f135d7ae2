//! The inbox desk's side toward senders: a send (or a receipt) goes to the
//! ledger, which numbers and stores it; what it answers — at once, or later
//! with a whole commit's or pipeline's answers — is handed over here or on
//! the holder's node, and answered, gathered per turn.

use super::*;

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

/// [`Append`] for a session, which takes its answer by ticket (see
/// `answers`): no channel and no future per send.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct AppendFor {
    pub(crate) append: Append,
    pub(crate) answer_to: AnswerTo,
}

/// What a send or a receipt becomes before the ledger numbers it.
pub(super) struct Outgoing {
    pub(super) to: Arc<str>,
    /// What is stored.
    pub(super) body: Body,
    pub(super) receipt: Option<ReceiptNote>,
    /// (sender, msg_id, fingerprint) of a send with a `msg_id`.
    pub(super) once: Option<(Arc<str>, Arc<str>, [u64; 2])>,
    pub(super) caps: Caps,
}

/// A send (its message, also for an address without an inbox: it may be
/// hosted in-process on another node) or a receipt.
pub(super) enum Body {
    Send(Append),
    /// A receipt's frame, with `0` for the `seq` at `seq_at`.
    Receipt {
        frame: ByteString,
        seq_at: usize,
    },
}

impl Outgoing {
    /// What the ledger numbers.
    fn frame(&self) -> Frame<'_> {
        match &self.body {
            Body::Send(msg) => Frame::Message {
                from: &msg.from,
                payload: &msg.payload,
                correlation: Correlation {
                    correlation_id: msg.correlation_id.as_deref(),
                    in_reply_to: msg.in_reply_to.as_deref(),
                },
            },
            Body::Receipt { frame, seq_at } => Frame::Split {
                head: &frame[..*seq_at],
                tail: &frame[seq_at + 1..],
            },
        }
    }
}

impl InboxDesk {
    /// Stores a send; answers `reply` once the ledger has it and the recipient's
    /// node said whether its session took it.
    fn append(&mut self, msg: Append, reply: Reply, ctx: &mut Context<Self>) {
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
            body: Body::Send(msg),
            receipt,
            once,
            caps: self.caps(),
        };
        self.store_outgoing(outgoing, reply, ctx);
    }

    pub(super) fn store_outgoing(&mut self, out: Outgoing, reply: Reply, ctx: &mut Context<Self>) {
        // Enqueued here, in the order the sends came: that is their `seq` order.
        let once = out.once.as_ref().map(|(sender, msg_id, print)| Once {
            sender,
            msg_id,
            fingerprint: *print,
        });
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        let answered = self.ledger.append(
            &out.to,
            out.frame(),
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
                let frame = frame.unwrap_or_else(|| out.frame().with_seq(seq));
                self.deliver(out, seq, frame, reply, ctx);
            }
            Appended::Copies { stored, full } => {
                Metrics::add(&self.metrics.inbox_stored_total, stored.len() as u64);
                Metrics::add(&self.metrics.inbox_full_copies_total, full);
                let statuses: Vec<_> = stored
                    .into_iter()
                    .map(|copy| {
                        self.fire(&copy.to, copy.receipts, false, ctx);
                        let frame = copy.frame.unwrap_or_else(|| out.frame().with_seq(copy.seq));
                        self.hand_or_wake(&copy.to, copy.seq, frame, ctx)
                    })
                    .collect();
                let status = futures_util::future::join_all(statuses)
                    .map(one_status)
                    .boxed();
                self.settle_and_answer(out, status, reply, ctx);
            }
            Appended::Again(status) => self.answer(reply, Ok(status), ctx),
            Appended::Conflict => {
                self.answer(reply, Err(HubError::IdempotencyConflict(id())), ctx);
            }
            Appended::Full => {
                let full = HubError::RecipientQueueFull(out.to.to_string());
                self.answer(reply, Err(full), ctx);
            }
            Appended::Unknown => match out.body {
                // No inbox in the hub: maybe an address an application
                // hosts in-process on another node; sent there unstored.
                Body::Send(msg) => {
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
                Body::Receipt { .. } => {
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
        let status = self.hand_or_wake(&out.to, seq, frame, ctx);
        self.settle_and_answer(out, status, reply, ctx);
    }

    /// Hands stored message `seq` to `to`'s session here, or asks the node
    /// that holds it to: `accepted` or `queued`.
    fn hand_or_wake(
        &mut self,
        to: &Arc<str>,
        seq: u64,
        frame: ByteString,
        ctx: &mut Context<Self>,
    ) -> BoxFuture<'static, Result<DeliveryStatus, HubError>> {
        if self.held.contains_key(to) {
            let status = self.offer(to, seq, frame, ctx);
            std::future::ready(Ok(status)).boxed()
        } else {
            self.routes.wake(to, seq, &frame)
        }
    }

    /// Answers a stored send with `status` once it is known, and records it
    /// for the send's retries.
    fn settle_and_answer(
        &mut self,
        out: Outgoing,
        mut status: BoxFuture<'static, Result<DeliveryStatus, HubError>>,
        reply: Reply,
        ctx: &mut Context<Self>,
    ) {
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

/// The one status of a send stored in several inboxes: `accepted` when a
/// session took one copy, else `queued` when one is stored for later, else
/// the first failure.
fn one_status(statuses: Vec<Result<DeliveryStatus, HubError>>) -> Result<DeliveryStatus, HubError> {
    let mut first_failure = None;
    let mut queued = false;
    for status in statuses {
        match status {
            Ok(DeliveryStatus::Accepted) => return Ok(DeliveryStatus::Accepted),
            Ok(_) => queued = true,
            Err(e) => {
                first_failure.get_or_insert(e);
            }
        }
    }
    match first_failure {
        Some(e) if !queued => Err(e),
        _ => Ok(DeliveryStatus::Queued),
    }
}

/// What the ledger answered of sends it took for later (one commit's or
/// one pipeline's): by ticket.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Appends(pub(super) Vec<(u64, AppendAnswer)>);

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
